"""BackupsApi: POST /backups, GET /backups/{id}, GET /backups and GET /catalog behind API
Gateway (IAM auth).

A thin edge: read the request, call ``aiven_backup.api``, and map its named errors to HTTP
answers of one shape, ``{"error": <name>, "message": <what to do>, ...}``.
"""

from functools import cache
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from aiven_backup.api import (
    ApiSettings,
    BackupCatalog,
    BackupInProgressError,
    BackupNotFoundError,
    BackupsApi,
    IdempotencyKeyReusedError,
    InvalidRequestError,
)
from aiven_backup.api.links import BackupLinks
from aiven_backup.errors import (
    InvalidExecutionInput,
    S3Unavailable,
    StackMisconfigured,
    UploadFailed,
)
from aiven_backup.redaction import install_redaction

logger, tracer = Logger(), Tracer()
install_redaction(logger)
app = APIGatewayRestResolver()

IDEMPOTENCY_HEADER = "Idempotency-Key"
ROUTES = "POST /backups, GET /backups, GET /backups/{id}, GET /catalog"


@cache
def backups() -> BackupsApi:
    """One set of clients per container."""
    return BackupsApi.from_settings(ApiSettings.from_env())


@cache
def catalog() -> BackupCatalog:
    """One S3 client per container."""
    return BackupCatalog.from_settings(ApiSettings.from_env())


@app.post("/backups")
def start_backup() -> Response[dict[str, Any]]:
    started = backups().start_backup(
        _request_body(), idempotency_key=app.current_event.headers.get(IDEMPOTENCY_HEADER)
    )
    logger.info(
        "backup %s",
        "already started for this Idempotency-Key" if started.replayed else "started",
        extra={
            "execution_id": started.execution_id,
            # Not "service": that key is the Lambda's own service name in every log line.
            "aiven_project": ",".join(started.projects),
            "aiven_service": ",".join(started.services),
        },
    )
    links = _links()
    headers = {"Location": links.backup(started.execution_id)}
    if started.replayed:
        headers["Idempotent-Replayed"] = "true"
    body = started.to_dict(links)
    return Response(HTTPStatus.ACCEPTED, content_types.APPLICATION_JSON, body, headers)


@app.get("/backups/<execution_id>")
def get_backup(execution_id: str) -> dict[str, Any]:
    return backups().get_backup(execution_id, _links())


@app.get("/backups")
def list_backups() -> dict[str, Any]:
    return backups().list_backups(app.current_event.query_string_parameters, _links())


def _links() -> BackupLinks:
    """URLs under the stage (or custom domain base path) this request came through."""
    context = app.current_event.request_context
    return BackupLinks.for_request(
        domain_name=context.get("domainName"),
        request_path=context.get("path"),
        resource_path=app.current_event.resource,
        stage=context.get("stage"),
    )


@app.get("/catalog")
def get_catalog() -> dict[str, Any]:
    """What the bucket holds for ?project=&service= (the stack's by default), newest first."""
    return catalog().answer(app.current_event.query_string_parameters)


def _request_body() -> str | None:
    try:
        return app.current_event.decoded_body
    except ValueError:  # bad base64 or not UTF-8
        raise InvalidExecutionInput(
            "body", 'is not UTF-8 text; send a JSON object such as {"service": "my-influx"}'
        ) from None


# --- named errors to HTTP answers --------------------------------------------------------------


def _answer(
    status: HTTPStatus, error: str, message: str, **details: str
) -> Response[dict[str, Any]]:
    if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
        logger.error("request failed: %s", error)
    else:
        logger.info("request refused: %s", error, extra={"status": int(status), **details})
    body = {"error": error, "message": message, **details}
    return Response(status, content_types.APPLICATION_JSON, body)


def _invalid_input(error: InvalidExecutionInput) -> Response[dict[str, Any]]:
    return _answer(HTTPStatus.BAD_REQUEST, "InvalidExecutionInput", str(error), field=error.field)


def _invalid_request(error: InvalidRequestError) -> Response[dict[str, Any]]:
    return _answer(HTTPStatus.BAD_REQUEST, "InvalidRequest", str(error), field=error.field)


def _in_progress(error: BackupInProgressError) -> Response[dict[str, Any]]:
    return _answer(
        HTTPStatus.CONFLICT,
        "BackupAlreadyRunning",
        str(error),
        execution_id=error.execution_id,
        execution_arn=error.execution_arn,
        status_url=_links().backup(error.execution_id),
    )


def _key_reused(error: IdempotencyKeyReusedError) -> Response[dict[str, Any]]:
    return _answer(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "IdempotencyKeyReused",
        str(error),
        execution_id=error.execution_id,
        status_url=_links().backup(error.execution_id),
    )


def _backup_not_found(error: BackupNotFoundError) -> Response[dict[str, Any]]:
    return _answer(
        HTTPStatus.NOT_FOUND, "BackupNotFound", str(error), execution_id=error.execution_id
    )


def _no_route(_: NotFoundError) -> Response[dict[str, Any]]:
    event = app.current_event
    return _answer(
        HTTPStatus.NOT_FOUND,
        "NotFound",
        f"no route {event.http_method} {event.path}; this API has {ROUTES}",
    )


def _misconfigured(error: StackMisconfigured) -> Response[dict[str, Any]]:
    return _answer(HTTPStatus.INTERNAL_SERVER_ERROR, "StackMisconfigured", str(error))


def _s3_unavailable(error: S3Unavailable) -> Response[dict[str, Any]]:
    return _answer(HTTPStatus.SERVICE_UNAVAILABLE, "S3Unavailable", str(error))


def _s3_refused(error: UploadFailed) -> Response[dict[str, Any]]:
    # The message names what was refused and says to check the function's permissions.
    return _answer(HTTPStatus.INTERNAL_SERVER_ERROR, "S3Refused", str(error))


def _unexpected(error: Exception) -> Response[dict[str, Any]]:
    logger.exception("unexpected error")
    return _answer(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        "InternalError",
        f"the backups API failed unexpectedly ({type(error).__name__}); the API function's logs "
        "have the details under this request's id",
    )


# Powertools' exception_handler decorator is untyped; registering by call keeps these typed.
for _error_class, _handler in (
    (InvalidExecutionInput, _invalid_input),
    (InvalidRequestError, _invalid_request),
    (BackupInProgressError, _in_progress),
    (IdempotencyKeyReusedError, _key_reused),
    (BackupNotFoundError, _backup_not_found),
    (NotFoundError, _no_route),
    (StackMisconfigured, _misconfigured),
    (S3Unavailable, _s3_unavailable),
    (UploadFailed, _s3_refused),
    (Exception, _unexpected),
):
    app.exception_handler(_error_class)(_handler)


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
