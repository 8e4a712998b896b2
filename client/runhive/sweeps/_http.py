"""The team server as the sweeps' transport: a stub with the daemon's three sweep calls (`CreateSweep`,
`SweepAgent`, `SweepControl`) that POSTs the same protobuf request to `runhive server`
(`/api/v1/sweeps/rpc/<call>`, `Authorization: Bearer KEY`) and reads the same response message, with the standard
library only. Refusals keep the daemon's status names and the server's words (`refused`)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from runhive.errors import CommError, UsageError

# The status names a caller can fix (the daemon's gRPC codes; the server answers them by name).
REFUSALS = frozenset(
    {"INVALID_ARGUMENT", "NOT_FOUND", "FAILED_PRECONDITION", "PERMISSION_DENIED", "UNAUTHENTICATED"}
)


def refused(code: str, message: str) -> UsageError:
    """A sweep call the controller refused, as the UsageError users catch; its `code` attribute is the status
    name (INVALID_ARGUMENT, PERMISSION_DENIED, ...)."""
    err = UsageError(message)
    err.code = code  # type: ignore[attr-defined]
    return err


class ServerStub:
    """`stub.CreateSweep(req, timeout=60)` etc., answered by the team server at `url`."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url.rstrip("/")
        self._key = key

    def _post(self, call: str, req: Any, reply_type: Any, timeout: float | None) -> Any:
        request = urllib.request.Request(
            f"{self.url}/api/v1/sweeps/rpc/{call}",
            data=req.SerializeToString(),
            headers={
                "Content-Type": "application/x-protobuf",
                "Accept": "application/x-protobuf",
                "Authorization": f"Bearer {self._key}",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout if timeout is not None else 60.0) as resp:
                return reply_type.FromString(resp.read())
        except urllib.error.HTTPError as exc:
            try:
                doc = json.loads(exc.read().decode("utf-8"))
                message, code = str(doc.get("error") or exc.reason), str(doc.get("code") or "")
            except (ValueError, AttributeError):
                message, code = str(exc.reason), ""
            if code in REFUSALS:
                raise refused(code, message) from None
            raise CommError(
                f"the team server at {self.url} failed {call} (HTTP {exc.code} {code}): {message}"
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            raise CommError(
                f"cannot reach the team server at {self.url}: {getattr(exc, 'reason', exc)}"
            ) from None

    def CreateSweep(self, req: Any, timeout: float | None = None) -> Any:
        from runhive.protocol import messages as pb

        return self._post("CreateSweep", req, pb.CreateSweepResponse, timeout)

    def SweepAgent(self, req: Any, timeout: float | None = None) -> Any:
        from runhive.protocol import messages as pb

        return self._post("SweepAgent", req, pb.SweepAgentResponse, timeout)

    def SweepControl(self, req: Any, timeout: float | None = None) -> Any:
        from runhive.protocol import messages as pb

        return self._post("SweepControl", req, pb.SweepControlResponse, timeout)
