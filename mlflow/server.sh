#!/usr/bin/env bash
# Start the MLflow tracking server the pipeline logs to (`make mlflow-server`; compose runs it too).
#
# Every setting comes from the environment, with the local defaults on the right:
#   MLFLOW_BACKEND_STORE_URI      sqlite:///mlflow.db     (compose: postgresql://mlflow:…@postgres/mlflow)
#   MLFLOW_ARTIFACTS_DESTINATION  ./mlartifacts           (S3: s3://supercorrect/mlflow)
#   MLFLOW_HOST / MLFLOW_PORT     127.0.0.1 / 5000
#   MLFLOW_ALLOWED_HOSTS          MLflow's default (localhost); compose adds its service name
# For an S3 artifact store, boto3 reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY and
# MLFLOW_S3_ENDPOINT_URL (a non-AWS store such as SeaweedFS or MinIO) from the environment; none
# of them is written anywhere. Clients then only need MLFLOW_TRACKING_URI=http://HOST:PORT: the
# server proxies artifact uploads (--serve-artifacts), so clients hold no S3 credentials.
set -euo pipefail
args=(server
      --backend-store-uri "${MLFLOW_BACKEND_STORE_URI:-sqlite:///mlflow.db}"
      --artifacts-destination "${MLFLOW_ARTIFACTS_DESTINATION:-./mlartifacts}"
      --serve-artifacts
      --host "${MLFLOW_HOST:-127.0.0.1}" --port "${MLFLOW_PORT:-5000}")
if [[ -n "${MLFLOW_ALLOWED_HOSTS:-}" ]]; then
    args+=(--allowed-hosts "$MLFLOW_ALLOWED_HOSTS")
fi
exec "${MLFLOW_BIN:-mlflow}" "${args[@]}"
