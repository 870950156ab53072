"""One error hierarchy for the whole package.

Every message names the file, row, column or rule that failed, so the person who
reads it knows what to fix.  The message texts are module constants (fairlearn
style) and the tests match on them.  Errors are rendered in exactly two places:
``ui.run_page`` for the app and ``cli.main`` for the command line.
"""

from __future__ import annotations


class EthicsError(Exception):
    """Base class of every error the package raises on purpose.

    Parameters
    ----------
    message : str
        What went wrong, naming the file, row, column or rule.
    hint : str, optional
        What the reader can do about it.
    """

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class NotFound(EthicsError):
    """A model, version, dataset or snapshot that does not exist."""


class ValidationError(EthicsError):
    """Input that breaks a rule; nothing was written."""


class ArtifactRefused(ValidationError):
    """A model artifact in a format that could run code, or one that does not match."""


class PermissionDenied(EthicsError):
    """The signed-in account may not do this."""


class ConsentMissing(EthicsError):
    """Personal data used without the consent its purpose needs."""


class MigrationError(EthicsError):
    """The database schema could not be brought up to date."""


class CheckFailed(EthicsError):
    """A verification ran and found a problem (exit code 1, not bad input)."""

    exit_code = 1


# Message texts.  Keep the placeholders named so callers pass keywords.
UNKNOWN_MODEL = "Unknown model {model_id!r}: no model with that id is registered."
UNKNOWN_VERSION = "Unknown version {version!r} of model {model_id!r}."
UNKNOWN_SNAPSHOT = "Unknown snapshot {snapshot_id!r}."
NO_SNAPSHOT = "Model {model_id!r} has no snapshot yet."
MODEL_NOT_VISIBLE = "Not allowed: model {model_id!r} scores no leads of team {team!r} (or does not exist)."

MANIFEST_UNREADABLE = "{file}: cannot read the manifest ({reason})."
MANIFEST_TOML = "{file}: not valid TOML: {reason}."
MANIFEST_MISSING = "{file}: required field {field!r} is missing."
MANIFEST_TYPE = "{file}: field {field!r} must be {expected}, got {got!r}."
MANIFEST_CHOICE = "{file}: field {field!r} is {got!r}; allowed: {allowed}."
MANIFEST_RULE = "{file}: {rule}."
# Rules of one outcome type, each used inside MANIFEST_RULE (which names the file).
MANIFEST_OUTCOME_FIELD = "field {field!r} belongs to outcome {owner!r}; this model's outcome is {outcome!r}"
MANIFEST_OUTCOME_THRESHOLD = (
    "field 'threshold' is not used by outcome {outcome!r}: its decision is not a score cut at a threshold; remove it"
)
MANIFEST_OUTCOME_ARTIFACT = (
    "outcome {outcome!r} takes artifact kind 'none' (scores only) in this version, got {kind!r}: "
    "import the model's outputs with the data"
)
MANIFEST_CAPACITY = (
    "[ranking] capacity must be a whole number of at least 1 or a table team = k of such numbers, got {got!r}"
)

ARTIFACT_PICKLE = (
    "{file}: refused: the file is a {format} (magic bytes {magic}), which can run code "
    "when loaded. Export the model as LightGBM text, XGBoost JSON/UBJ or linear JSON."
)
ARTIFACT_KIND = "{file}: the manifest says artifact kind {kind!r}, but {reason}."
ARTIFACT_REQUIRED = "{file}: artifact kind {kind!r} needs an artifact file (--artifact FILE)."
ARTIFACT_UNEXPECTED = "{file}: artifact kind 'none' (scores only) takes no artifact file."
ARTIFACT_HASH = (
    "Artifact of {model_id} {version} at {file} has SHA-256 {actual}, but {expected} was "
    "registered: the file was changed after registration and will not be loaded."
)
ARTIFACT_NOT_CLASSIFIER = (
    "{file}: a {outcome} model's artifact must give probabilities in [0, 1], but {reason}; nothing was registered."
)
ARTIFACT_TOO_LARGE = "{file}: the artifact is {size} bytes; at most {limit} bytes are accepted."
ARTIFACT_NOT_FILE = "{file}: the artifact is not a regular file."
ARTIFACT_CHANGED = "{file}: the file changed while it was read (SHA-256 {actual}, expected {expected}); {consequence}."
# The artifact worker (ethics/worker.py): what happened to the process, with the step it was on.
WORKER_CRASHED = (
    "{file}: the artifact crashed the model library while {step} (signal {number}, {name}); {consequence}."
)
WORKER_MEMORY = (
    "{file}: the artifact needed more memory than the worker's limit ({limit}) while {step}; {consequence}."
)
WORKER_CPU = "{file}: the artifact used more than the worker's CPU-time limit ({limit} s) while {step}; {consequence}."
WORKER_TIMEOUT = (
    "{file}: the model library did not finish {step} within the worker's time limit ({limit} s); {consequence}."
)
WORKER_EXITED = "{file}: the artifact worker stopped while {step} (exit code {code}); {consequence}."
WORKER_FAILED = "{file}: the model library failed while {step} ({reason}); {consequence}."
WORKER_CRASH_HINT = "A valid model file does not crash its library: export the model again from the training code."
WORKER_HINT = (
    "The worker's limits are set by ETHICS_WORKER_MEMORY_MB, ETHICS_WORKER_CPU_SECONDS and "
    "ETHICS_WORKER_WALL_SECONDS."
)
VERSION_EXISTS = (
    "Model {model_id!r} version {version!r} is already registered with a different "
    "{what}; versions are immutable: register a new version instead."
)

FILE_TYPE = "{file}: unsupported file type {suffix!r}; use .csv or .parquet."
FILE_EMPTY = "{file}: the file has no data rows."
FILE_ENCODING = "{file}: not UTF-8 text (byte {position}): save the file as UTF-8."
FILE_UNREADABLE = "{file}: cannot read the file ({reason})."
COLUMN_MISSING = "{file}: required column {column!r} is missing."
COLUMN_EXTRA = (
    "{file}: column {column!r} is not a feature, sensitive attribute or known column of "
    "{model_id} {version}; remove it (unexpected columns may hold personal data)."
)
CELL_NOT_NUMBER = "{file}, row {row}, column {column!r}: {value!r} is not a number."
CELL_MISSING = "{file}, row {row}, column {column!r}: value is missing."
CELL_NOT_OFFER = "{file}, row {row}, column {column!r}: {value!r} is not one of the model's offers ({offers})."
CELL_NOT_CAPACITY = "{file}, row {row}, column 'capacity': {value!r} is not a whole number of at least 1."
CELL_NOT_DATE = "{file}, row {row}, column {column!r}: {value!r} is not a date such as 2026-11-20."
CAPACITY_VARIES = (
    "{file}, rows {rows}, column 'capacity': list {list!r} has capacities {values}: give one k per list."
)
TEAM_NO_CAPACITY = (
    "{file}, row {row}, column 'team': team {team!r} has no [ranking] capacity in the manifest (it gives {teams}) "
    "and column 'capacity' is missing."
)
RANKING_NO_CAPACITY = (
    "{file}: the model's manifest gives no [ranking] capacity and column 'capacity' is missing: give k per list."
)
CELL_FORMULA = (
    "{file}, row {row}, column {column!r}: {value!r} starts with {char!r} and would run as a "
    "spreadsheet formula; such cells are refused."
)
DUPLICATE_LEAD = "{file}, rows {rows}, column 'lead_id': lead id {value!r} appears more than once."
LABEL_NOT_BINARY = "{file}, row {row}, column 'label': {value!r} is not 0 or 1."
SCORE_RANGE = "{file}, row {row}, column 'score': {value!r} is outside [0, 1]."
SCORE_COMPUTED = (
    "{file}, row {row}, column 'score': the registered artifact of {model_id} {version} computed {value!r}, "
    "which is not a probability in [0, 1]; nothing was imported."
)
NOT_FINITE = (
    "Dataset {dataset_id} ({file}), row {row}, column {column!r}: {value!r} is not a finite number; "
    "no snapshot was taken: import the rows again."
)
SCORE_MISMATCH = (
    "{file}, row {row}, column 'score': {value!r} differs from the registered artifact's "
    "score {computed!r}: the file was not scored by {model_id} {version}."
)
DATASET_EXISTS = (
    "{file}: the {kind} of {model_id} {version} for week {week} is already imported "
    "(dataset {dataset_id}); datasets are immutable."
)
BAD_WEEK = "Week {week!r} is not an ISO week like 2026-W48."
NO_DATA_FOR_WEEK = "Model {model_id!r} has no evaluation set or scoring batch for week {week}."

# -- data --
MANIFEST_FEATURE_LOOK_ALIKE = (
    "features {first!r} and {second!r} differ only in case; feature names must be unique ignoring case "
    "(SQL engines and spreadsheets would read them as one column)"
)
CELL_MISSING_NOT_HANDLED = (
    "{file}, row {row}, column {column!r}: the cell is empty, and the model does not handle missing values "
    "for {column!r} ({reason}); give a value in every row."
)
# The reason in CELL_MISSING_NOT_HANDLED.
MISSING_SCORES_ONLY = "a scores-only model: no artifact says how it reads a missing value"
MISSING_HANDLED_FOR = "it handles them for {features} only"
MISSING_HANDLED_NOWHERE = "it handles them for no feature"
ARTIFACT_FEATURE_TYPES = (
    "{file}: the manifest gives {features} as {manifest} but the model reads {model}; set the features' type "
    "(number or category) as the model reads them. Nothing was registered."
)
# -- skops --
SKOPS_NOT_ALLOWED = "{file}: {reason}; {consequence}."
SKOPS_TYPE = "type {type} is not on ethics' list of allowed types (allowed-types v{version})"
SKOPS_NODE = (
    "{type} is written as a skops {node}, a kind of node ethics' list does not allow (allowed-types v{version})"
)
SKOPS_NOT_ZIP = "it is not a skops file (not a zip archive with a schema.json: {reason})"
SKOPS_SCHEMA = "its schema.json {reason}"
SKOPS_CANNOT_LOAD = "skops cannot load it ({reason})"
SKOPS_NOT_BINARY = (
    "it holds a {type}, not a fitted binary classifier (a pipeline or estimator with predict_proba and 2 classes_)"
)
SKOPS_NO_FEATURE_NAMES = (
    "the {type} has no feature_names_in_: fit it on a pandas DataFrame with named columns, then save it again"
)
SKOPS_ESTIMATOR = (
    "its final estimator {type} is not one ethics explains (LogisticRegression, GradientBoostingClassifier, "
    "HistGradientBoostingClassifier, RandomForestClassifier, ExtraTreesClassifier, DecisionTreeClassifier)"
)
SKOPS_GB_LOSS = "its GradientBoostingClassifier has loss {loss!r}; only 'log_loss' gives the sigmoid of its margin"
SKOPS_TRANSFORMER = (
    "its transformer {type} ({step!r}) mixes raw columns or is not one whose output columns ethics can trace "
    "back to one raw feature each, so its reasons could not speak of raw features"
)
SKOPS_WIDTH = "its preprocessing gives {columns} columns but its final estimator reads {expected}"
# -- chain --
# An imported text cell (ethics.text_cells): file, row, column, the value and what is wrong with it.
TEXT_CELL = "{file}, row {row}, column {column!r}: {value!r} {problem}."
TEXT_FORMULA = "starts with {char!r} and would run as a spreadsheet formula; such cells are refused"
TEXT_CHARACTER = "holds {char}; text may not hold control characters or bidirectional overrides"
TEXT_TOO_LONG = "is {length} characters long; at most {most} are allowed"
TEXT_BAD_TEAM = "is not a team name: {rule}"
# -- onnx --
ONNX_NOT_ONNX = "it is not an ONNX model ({reason})"
ONNX_TOO_LARGE = "it has {size:,} bytes, more than the {limit:,} an ONNX model may have"
ONNX_NO_GRAPH_IO = "its graph has no inputs or no outputs"
ONNX_CUSTOM_OP = (
    "{what} (op {op!r}, domain {domain!r}) is a custom operator, which onnxruntime would look up in a library; "
    "only the domains '', 'ai.onnx' and 'ai.onnx.ml' are run"
)
ONNX_UNKNOWN_OP = (
    "{what} (op {op!r}, domain {domain!r}) is not a standard ONNX operator, so onnxruntime would look it up "
    "in a custom library"
)
ONNX_EXTERNAL_DATA = (
    "{where} keeps the data of tensor {tensor!r} in another file ({location!r}); an ONNX artifact must hold "
    "all its data: save it with onnx.save_model(model, path, save_as_external_data=False)"
)
ONNX_INPUT = (
    "input {name!r} is {found}: inputs must be one [None, 1] float, double, int64 or string tensor per feature, "
    "or one [None, features] float tensor"
)
ONNX_FEATURE_NAMES = (
    "its one matrix input {input!r} needs its column names in metadata_props 'feature_names' ({problem}): "
    "add them, e.g. onnx.helper.set_model_props(model, {{'feature_names': 'age,tenure,...'}}) "
    "(comma-separated or a JSON list)"
)
ONNX_OUTPUT = (
    "none of its outputs ({outputs}) is the class probabilities: a [None, 2] float tensor or the ZipMap "
    "that skl2onnx writes"
)
ONNX_CLASSES = "its output {output!r} has {classes} classes; binary needs 2 (the score is class 1)"
# -- sensitive --
MANIFEST_INPUT_BANDS = (
    "sensitive attribute {name!r} is also a feature of type \"category\" (text), but gives band edges: "
    "bands group numbers; make the feature a number or drop the bands"
)
MANIFEST_VALUE_LABELS = (
    "{where}.labels must be a table of each value as text to its label, such as "
    "labels = {{ \"0\" = \"Male\", \"1\" = \"Female\" }}, got {got!r}"
)
MANIFEST_VALUE_LABEL = "{where}.labels: value {value!r} needs a non-empty text label, got {got!r}"
MANIFEST_VALUE_LABEL_REPEATED = (
    "{where}.labels must name each value differently, and not by another value; repeated: {labels}"
)
# -- intake --
REFERENCE_REQUIRED = (
    "{file}: {kind} artifacts are registered only with reference rows (--reference REF.csv: the model's features "
    "and the score production gave each row), so that the model governed here is shown to reproduce production; "
    "nothing was registered."
)
REFERENCE_WITHOUT_ARTIFACT = (
    "{file}: reference rows are recomputed by the model's artifact, and a scores-only model (kind 'none') has "
    "none; nothing was registered."
)
REFERENCE_EMPTY = "{file}: the reference rows hold no row; nothing was registered."
REFERENCE_COLUMN_EXTRA = (
    "{file}: column {column!r} is neither a feature of the manifest nor 'score' (nor an id column); "
    "nothing was registered."
)
REFERENCE_DIFFERS = (
    "{file}, row {row}, column 'score': the artifact computes {computed!r} where production scored {reported!r}; "
    "the difference {difference:.3g} is above the tolerance {tolerance:g} ([policy.equivalence] tolerance), so "
    "the model governed here would not be the model in production; nothing was registered."
)
ARTIFACT_FEATURES_DIFFER = "{file}: the artifact's features do not match the manifest's: {differences}."
MANIFEST_TODO = (
    "{file}: field {field!r} still holds the placeholder {value!r}: replace it with what only you know before "
    "registering."
)
INIT_SAMPLE_COLUMNS = (
    "{file}: column {column!r} of the model is not in the sample; give a sample with every feature of the model "
    "(or none)."
)
MANIFEST_EXISTS = "{file} already exists; give another --out or remove it first (nothing was written)."
NOTEBOOK_KIND = (
    "{file}: ethics.register saves the model with skops, but the manifest's [artifact] kind is {kind!r}: "
    "set kind = \"skops\" (or register that file with python -m ethics register); nothing was registered."
)
