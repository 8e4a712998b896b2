from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ProtocolVersion(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROTOCOL_VERSION_UNSPECIFIED: _ClassVar[ProtocolVersion]
    PROTOCOL_VERSION_CURRENT: _ClassVar[ProtocolVersion]
PROTOCOL_VERSION_UNSPECIFIED: ProtocolVersion
PROTOCOL_VERSION_CURRENT: ProtocolVersion

class HandshakeRequest(_message.Message):
    __slots__ = ("protocol_version", "pid", "host", "token", "pid_create_time", "client_version")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    PID_CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    pid: int
    host: str
    token: str
    pid_create_time: float
    client_version: str
    def __init__(self, protocol_version: _Optional[int] = ..., pid: _Optional[int] = ..., host: _Optional[str] = ..., token: _Optional[str] = ..., pid_create_time: _Optional[float] = ..., client_version: _Optional[str] = ...) -> None: ...

class HandshakeResponse(_message.Message):
    __slots__ = ("protocol_version", "session", "daemon_pid", "daemon_version")
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    SESSION_FIELD_NUMBER: _ClassVar[int]
    DAEMON_PID_FIELD_NUMBER: _ClassVar[int]
    DAEMON_VERSION_FIELD_NUMBER: _ClassVar[int]
    protocol_version: int
    session: str
    daemon_pid: int
    daemon_version: str
    def __init__(self, protocol_version: _Optional[int] = ..., session: _Optional[str] = ..., daemon_pid: _Optional[int] = ..., daemon_version: _Optional[str] = ...) -> None: ...

class RunInfo(_message.Message):
    __slots__ = ("id", "entity", "project", "name", "notes", "tags", "group", "job_type", "run_dir", "start_time", "pid", "host", "metadata_json", "mode", "sweep_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    JOB_TYPE_FIELD_NUMBER: _ClassVar[int]
    RUN_DIR_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    entity: str
    project: str
    name: str
    notes: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    group: str
    job_type: str
    run_dir: str
    start_time: float
    pid: int
    host: str
    metadata_json: bytes
    mode: str
    sweep_id: str
    def __init__(self, id: _Optional[str] = ..., entity: _Optional[str] = ..., project: _Optional[str] = ..., name: _Optional[str] = ..., notes: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., group: _Optional[str] = ..., job_type: _Optional[str] = ..., run_dir: _Optional[str] = ..., start_time: _Optional[float] = ..., pid: _Optional[int] = ..., host: _Optional[str] = ..., metadata_json: _Optional[bytes] = ..., mode: _Optional[str] = ..., sweep_id: _Optional[str] = ...) -> None: ...

class InitRunRequest(_message.Message):
    __slots__ = ("session", "info", "root_dir", "resume", "writer", "config_json", "server_url", "api_key", "settings_json")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    INFO_FIELD_NUMBER: _ClassVar[int]
    ROOT_DIR_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    WRITER_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    SERVER_URL_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_JSON_FIELD_NUMBER: _ClassVar[int]
    session: str
    info: RunInfo
    root_dir: str
    resume: str
    writer: str
    config_json: bytes
    server_url: str
    api_key: str
    settings_json: bytes
    def __init__(self, session: _Optional[str] = ..., info: _Optional[_Union[RunInfo, _Mapping]] = ..., root_dir: _Optional[str] = ..., resume: _Optional[str] = ..., writer: _Optional[str] = ..., config_json: _Optional[bytes] = ..., server_url: _Optional[str] = ..., api_key: _Optional[str] = ..., settings_json: _Optional[bytes] = ...) -> None: ...

class InitRunResponse(_message.Message):
    __slots__ = ("info", "state", "starting_step", "resumed", "last_seq", "config_json", "summary_json")
    INFO_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STARTING_STEP_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_JSON_FIELD_NUMBER: _ClassVar[int]
    info: RunInfo
    state: str
    starting_step: int
    resumed: bool
    last_seq: int
    config_json: bytes
    summary_json: bytes
    def __init__(self, info: _Optional[_Union[RunInfo, _Mapping]] = ..., state: _Optional[str] = ..., starting_step: _Optional[int] = ..., resumed: _Optional[bool] = ..., last_seq: _Optional[int] = ..., config_json: _Optional[bytes] = ..., summary_json: _Optional[bytes] = ...) -> None: ...

class ConfigRecord(_message.Message):
    __slots__ = ("json", "full", "remove")
    JSON_FIELD_NUMBER: _ClassVar[int]
    FULL_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    json: bytes
    full: bool
    remove: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, json: _Optional[bytes] = ..., full: _Optional[bool] = ..., remove: _Optional[_Iterable[str]] = ...) -> None: ...

class HistoryRecord(_message.Message):
    __slots__ = ("step", "json", "keys", "values", "int_keys", "int_values", "rows")
    STEP_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    INT_KEYS_FIELD_NUMBER: _ClassVar[int]
    INT_VALUES_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    step: int
    json: bytes
    keys: _containers.RepeatedScalarFieldContainer[str]
    values: _containers.RepeatedScalarFieldContainer[float]
    int_keys: _containers.RepeatedScalarFieldContainer[str]
    int_values: _containers.RepeatedScalarFieldContainer[int]
    rows: int
    def __init__(self, step: _Optional[int] = ..., json: _Optional[bytes] = ..., keys: _Optional[_Iterable[str]] = ..., values: _Optional[_Iterable[float]] = ..., int_keys: _Optional[_Iterable[str]] = ..., int_values: _Optional[_Iterable[int]] = ..., rows: _Optional[int] = ...) -> None: ...

class SummaryRecord(_message.Message):
    __slots__ = ("json", "remove")
    JSON_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    json: bytes
    remove: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, json: _Optional[bytes] = ..., remove: _Optional[_Iterable[str]] = ...) -> None: ...

class RunUpdateRecord(_message.Message):
    __slots__ = ("info", "fields")
    INFO_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    info: RunInfo
    fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, info: _Optional[_Union[RunInfo, _Mapping]] = ..., fields: _Optional[_Iterable[str]] = ...) -> None: ...

class MetricRecord(_message.Message):
    __slots__ = ("name", "step_metric", "summary", "goal", "hidden", "step_sync")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STEP_METRIC_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    GOAL_FIELD_NUMBER: _ClassVar[int]
    HIDDEN_FIELD_NUMBER: _ClassVar[int]
    STEP_SYNC_FIELD_NUMBER: _ClassVar[int]
    name: str
    step_metric: str
    summary: _containers.RepeatedScalarFieldContainer[str]
    goal: str
    hidden: bool
    step_sync: bool
    def __init__(self, name: _Optional[str] = ..., step_metric: _Optional[str] = ..., summary: _Optional[_Iterable[str]] = ..., goal: _Optional[str] = ..., hidden: _Optional[bool] = ..., step_sync: _Optional[bool] = ...) -> None: ...

class ExitRecord(_message.Message):
    __slots__ = ("exit_code", "state")
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    exit_code: int
    state: str
    def __init__(self, exit_code: _Optional[int] = ..., state: _Optional[str] = ...) -> None: ...

class Record(_message.Message):
    __slots__ = ("seq", "run_id", "writer", "time", "run", "config", "history", "summary", "update", "exit", "metric")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    WRITER_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    UPDATE_FIELD_NUMBER: _ClassVar[int]
    EXIT_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    seq: int
    run_id: str
    writer: str
    time: float
    run: RunInfo
    config: ConfigRecord
    history: HistoryRecord
    summary: SummaryRecord
    update: RunUpdateRecord
    exit: ExitRecord
    metric: MetricRecord
    def __init__(self, seq: _Optional[int] = ..., run_id: _Optional[str] = ..., writer: _Optional[str] = ..., time: _Optional[float] = ..., run: _Optional[_Union[RunInfo, _Mapping]] = ..., config: _Optional[_Union[ConfigRecord, _Mapping]] = ..., history: _Optional[_Union[HistoryRecord, _Mapping]] = ..., summary: _Optional[_Union[SummaryRecord, _Mapping]] = ..., update: _Optional[_Union[RunUpdateRecord, _Mapping]] = ..., exit: _Optional[_Union[ExitRecord, _Mapping]] = ..., metric: _Optional[_Union[MetricRecord, _Mapping]] = ...) -> None: ...

class RecordBatch(_message.Message):
    __slots__ = ("run_id", "writer", "records")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    WRITER_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    writer: str
    records: _containers.RepeatedCompositeFieldContainer[Record]
    def __init__(self, run_id: _Optional[str] = ..., writer: _Optional[str] = ..., records: _Optional[_Iterable[_Union[Record, _Mapping]]] = ...) -> None: ...

class Batch(_message.Message):
    __slots__ = ("session", "groups")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    session: str
    groups: _containers.RepeatedCompositeFieldContainer[RecordBatch]
    def __init__(self, session: _Optional[str] = ..., groups: _Optional[_Iterable[_Union[RecordBatch, _Mapping]]] = ...) -> None: ...

class WriterAck(_message.Message):
    __slots__ = ("run_id", "writer", "seq")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    WRITER_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    writer: str
    seq: int
    def __init__(self, run_id: _Optional[str] = ..., writer: _Optional[str] = ..., seq: _Optional[int] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("acks",)
    ACKS_FIELD_NUMBER: _ClassVar[int]
    acks: _containers.RepeatedCompositeFieldContainer[WriterAck]
    def __init__(self, acks: _Optional[_Iterable[_Union[WriterAck, _Mapping]]] = ...) -> None: ...

class FlushRequest(_message.Message):
    __slots__ = ("session", "run_id", "writer", "seq", "timeout")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    WRITER_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    session: str
    run_id: str
    writer: str
    seq: int
    timeout: float
    def __init__(self, session: _Optional[str] = ..., run_id: _Optional[str] = ..., writer: _Optional[str] = ..., seq: _Optional[int] = ..., timeout: _Optional[float] = ...) -> None: ...

class FlushResponse(_message.Message):
    __slots__ = ("done", "applied_seq")
    DONE_FIELD_NUMBER: _ClassVar[int]
    APPLIED_SEQ_FIELD_NUMBER: _ClassVar[int]
    done: bool
    applied_seq: int
    def __init__(self, done: _Optional[bool] = ..., applied_seq: _Optional[int] = ...) -> None: ...

class FinishRunRequest(_message.Message):
    __slots__ = ("session", "run_id", "writer", "seq", "timeout")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    WRITER_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    session: str
    run_id: str
    writer: str
    seq: int
    timeout: float
    def __init__(self, session: _Optional[str] = ..., run_id: _Optional[str] = ..., writer: _Optional[str] = ..., seq: _Optional[int] = ..., timeout: _Optional[float] = ...) -> None: ...

class FinishRunResponse(_message.Message):
    __slots__ = ("done", "state", "applied_seq", "pending")
    DONE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    APPLIED_SEQ_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    done: bool
    state: str
    applied_seq: int
    pending: str
    def __init__(self, done: _Optional[bool] = ..., state: _Optional[str] = ..., applied_seq: _Optional[int] = ..., pending: _Optional[str] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: str
    def __init__(self, session: _Optional[str] = ...) -> None: ...

class StreamStatus(_message.Message):
    __slots__ = ("run_id", "project", "state", "writers", "records")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    WRITERS_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    project: str
    state: str
    writers: int
    records: int
    def __init__(self, run_id: _Optional[str] = ..., project: _Optional[str] = ..., state: _Optional[str] = ..., writers: _Optional[int] = ..., records: _Optional[int] = ...) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("pid", "socket", "uptime", "clients", "streams", "store", "version", "records_received", "records_applied", "rss_bytes")
    PID_FIELD_NUMBER: _ClassVar[int]
    SOCKET_FIELD_NUMBER: _ClassVar[int]
    UPTIME_FIELD_NUMBER: _ClassVar[int]
    CLIENTS_FIELD_NUMBER: _ClassVar[int]
    STREAMS_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RECORDS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    RECORDS_APPLIED_FIELD_NUMBER: _ClassVar[int]
    RSS_BYTES_FIELD_NUMBER: _ClassVar[int]
    pid: int
    socket: str
    uptime: float
    clients: int
    streams: _containers.RepeatedCompositeFieldContainer[StreamStatus]
    store: str
    version: str
    records_received: int
    records_applied: int
    rss_bytes: int
    def __init__(self, pid: _Optional[int] = ..., socket: _Optional[str] = ..., uptime: _Optional[float] = ..., clients: _Optional[int] = ..., streams: _Optional[_Iterable[_Union[StreamStatus, _Mapping]]] = ..., store: _Optional[str] = ..., version: _Optional[str] = ..., records_received: _Optional[int] = ..., records_applied: _Optional[int] = ..., rss_bytes: _Optional[int] = ...) -> None: ...

class ShutdownRequest(_message.Message):
    __slots__ = ("session",)
    SESSION_FIELD_NUMBER: _ClassVar[int]
    session: str
    def __init__(self, session: _Optional[str] = ...) -> None: ...

class ShutdownResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SyncRequest(_message.Message):
    __slots__ = ("session", "wal_path", "include_online", "include_synced", "entity", "project", "run_id")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    WAL_PATH_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_ONLINE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_SYNCED_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    session: str
    wal_path: str
    include_online: bool
    include_synced: bool
    entity: str
    project: str
    run_id: str
    def __init__(self, session: _Optional[str] = ..., wal_path: _Optional[str] = ..., include_online: _Optional[bool] = ..., include_synced: _Optional[bool] = ..., entity: _Optional[str] = ..., project: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class SyncProgress(_message.Message):
    __slots__ = ("run_id", "name", "run_dir", "bytes_done", "bytes_total", "records", "rows", "done", "outcome", "message", "state", "damage")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RUN_DIR_FIELD_NUMBER: _ClassVar[int]
    BYTES_DONE_FIELD_NUMBER: _ClassVar[int]
    BYTES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DAMAGE_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    name: str
    run_dir: str
    bytes_done: int
    bytes_total: int
    records: int
    rows: int
    done: bool
    outcome: str
    message: str
    state: str
    damage: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, run_id: _Optional[str] = ..., name: _Optional[str] = ..., run_dir: _Optional[str] = ..., bytes_done: _Optional[int] = ..., bytes_total: _Optional[int] = ..., records: _Optional[int] = ..., rows: _Optional[int] = ..., done: _Optional[bool] = ..., outcome: _Optional[str] = ..., message: _Optional[str] = ..., state: _Optional[str] = ..., damage: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateSweepRequest(_message.Message):
    __slots__ = ("session", "entity", "project", "config_json", "prior_runs")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    PRIOR_RUNS_FIELD_NUMBER: _ClassVar[int]
    session: str
    entity: str
    project: str
    config_json: bytes
    prior_runs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, session: _Optional[str] = ..., entity: _Optional[str] = ..., project: _Optional[str] = ..., config_json: _Optional[bytes] = ..., prior_runs: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateSweepResponse(_message.Message):
    __slots__ = ("id", "entity", "project", "violations")
    ID_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    id: str
    entity: str
    project: str
    violations: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, id: _Optional[str] = ..., entity: _Optional[str] = ..., project: _Optional[str] = ..., violations: _Optional[_Iterable[str]] = ...) -> None: ...

class SweepCommand(_message.Message):
    __slots__ = ("type", "run_id", "args_json")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ARGS_JSON_FIELD_NUMBER: _ClassVar[int]
    type: str
    run_id: str
    args_json: bytes
    def __init__(self, type: _Optional[str] = ..., run_id: _Optional[str] = ..., args_json: _Optional[bytes] = ...) -> None: ...

class SweepAgentRequest(_message.Message):
    __slots__ = ("session", "sweep", "agent_id", "host", "pid", "running", "ended", "ended_codes", "want_run", "done")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    SWEEP_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    ENDED_FIELD_NUMBER: _ClassVar[int]
    ENDED_CODES_FIELD_NUMBER: _ClassVar[int]
    WANT_RUN_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    session: str
    sweep: str
    agent_id: str
    host: str
    pid: int
    running: _containers.RepeatedScalarFieldContainer[str]
    ended: _containers.RepeatedScalarFieldContainer[str]
    ended_codes: _containers.RepeatedScalarFieldContainer[int]
    want_run: bool
    done: bool
    def __init__(self, session: _Optional[str] = ..., sweep: _Optional[str] = ..., agent_id: _Optional[str] = ..., host: _Optional[str] = ..., pid: _Optional[int] = ..., running: _Optional[_Iterable[str]] = ..., ended: _Optional[_Iterable[str]] = ..., ended_codes: _Optional[_Iterable[int]] = ..., want_run: _Optional[bool] = ..., done: _Optional[bool] = ...) -> None: ...

class SweepAgentResponse(_message.Message):
    __slots__ = ("agent_id", "sweep_id", "entity", "project", "state", "config_json", "commands")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    sweep_id: str
    entity: str
    project: str
    state: str
    config_json: bytes
    commands: _containers.RepeatedCompositeFieldContainer[SweepCommand]
    def __init__(self, agent_id: _Optional[str] = ..., sweep_id: _Optional[str] = ..., entity: _Optional[str] = ..., project: _Optional[str] = ..., state: _Optional[str] = ..., config_json: _Optional[bytes] = ..., commands: _Optional[_Iterable[_Union[SweepCommand, _Mapping]]] = ...) -> None: ...

class SweepControlRequest(_message.Message):
    __slots__ = ("session", "sweep", "action")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    SWEEP_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    session: str
    sweep: str
    action: str
    def __init__(self, session: _Optional[str] = ..., sweep: _Optional[str] = ..., action: _Optional[str] = ...) -> None: ...

class SweepControlResponse(_message.Message):
    __slots__ = ("sweep_id", "entity", "project", "state")
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    sweep_id: str
    entity: str
    project: str
    state: str
    def __init__(self, sweep_id: _Optional[str] = ..., entity: _Optional[str] = ..., project: _Optional[str] = ..., state: _Optional[str] = ...) -> None: ...

class DeleteRunRequest(_message.Message):
    __slots__ = ("session", "entity", "project", "run_id")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    session: str
    entity: str
    project: str
    run_id: str
    def __init__(self, session: _Optional[str] = ..., entity: _Optional[str] = ..., project: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class DeleteRunResponse(_message.Message):
    __slots__ = ("run_dir", "dir_removed")
    RUN_DIR_FIELD_NUMBER: _ClassVar[int]
    DIR_REMOVED_FIELD_NUMBER: _ClassVar[int]
    run_dir: str
    dir_removed: bool
    def __init__(self, run_dir: _Optional[str] = ..., dir_removed: _Optional[bool] = ...) -> None: ...
