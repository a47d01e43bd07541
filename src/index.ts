/** The medlake library API: the CLI and the server are thin shells over these calls. */
export { Lake, resolveLakeDir, DEFAULT_LAKE_DIR, type LakeInfo } from './lake/lake.js';
export {
  loadIntoLake,
  type LoadOptions,
  type LoadProgress,
  type LoadSummary,
} from './lake/load.js';
export { LakeSession, type SessionOptions } from './lake/session.js';
export { LakeError, type Manifest, type LoadRecord } from './lake/manifest.js';
export {
  compileView,
  type CompiledView,
  type CompileViewOptions,
  type OutputColumn,
} from './views/compile.js';
export { runView, streamView, type ViewRun, type ViewRunOptions } from './views/run.js';
export { materializeViews, type MaterializeResult } from './views/materialize.js';
export {
  validateView,
  ViewValidationError,
  type ViewDefinition,
  type SelectNode,
  type ViewColumn,
} from './views/view-definition.js';
export { parseFhirPath, FhirPathSyntaxError } from './fhirpath/parser.js';
export type { FhirPathNode } from './fhirpath/ast.js';
export { FhirPathCompileError } from './fhirpath/errors.js';
export type { Dialect, SqlType } from './sql/dialect.js';
export { DuckDBDialect } from './sql/dialects/duckdb.js';
export { dialectByName, DIALECT_NAMES } from './sql/dialects/index.js';
export type { Engine, QueryResult, Row, RowStream, ResultColumn } from './engine/engine.js';
export { DuckDBEngine, type DuckDBEngineOptions } from './engine/duckdb-engine.js';
export { EngineError } from './engine/engine.js';
export { discoverSources, readSource } from './ingest/fhir-json-reader.js';
export { FHIR_R4_RESOURCE_TYPES } from './ingest/resource-types.js';
export type {
  IngestRecord,
  ParsedResource,
  QuarantinedRecord,
  SourceFile,
} from './ingest/types.js';
export { IngestSourceError } from './ingest/types.js';
export {
  CONVERTED_FORMATS,
  SOURCE_FORMAT_SYSTEM,
  patientIdFor,
  stableId,
  toParsedResource,
  withProvenance,
  type ConvertContext,
  type ConvertedFormat,
  type ConvertedRecord,
  type FhirObject,
  type FormatConverter,
  type TableRow,
} from './ingest/convert.js';
export { CONVERTERS } from './ingest/converters.js';
export { sniffFormat } from './ingest/sources.js';
export { parseHl7Message, splitHl7Messages, Hl7ParseError } from './ingest/hl7v2/parse.js';
export type { Hl7Message, Hl7Segment } from './ingest/hl7v2/model.js';
export { mapHl7Message } from './ingest/hl7v2/map.js';
export { buildAck } from './ingest/hl7v2/ack.js';
export { MllpServer, type MllpServerOptions } from './ingest/hl7v2/mllp.js';
export { commitHl7Messages } from './lake/hl7v2-commit.js';
export {
  startCluster,
  stopCluster,
  clusterStatus,
  ClusterError,
  type ClusterInfo,
  type ClusterStatus,
} from './engine/spark/cluster.js';
export { SparkEngine, type SparkEngineOptions } from './engine/spark/spark-engine.js';
export { SparkDialect } from './sql/dialects/spark.js';
export {
  openEngine,
  resolveEngine,
  ENGINE_NAMES,
  EngineChoiceError,
  type EngineChoice,
  type EngineName,
} from './engine/open-engine.js';
export { findSparkHome, SparkNotInstalledError } from './engine/spark/spark-home.js';
export { loadIntoLakeOnSpark, SparkLoadError, type SparkLoadOptions } from './lake/spark-load.js';
export {
  synthesize,
  resolveSynthArguments,
  SynthError,
  SYNTH_DEFAULTS,
  SYNTH_CORE_RESOURCE_TYPES,
  type SynthOptions,
  type SynthSummary,
  type Truth,
} from './synth/index.js';
export { synthesizeIntoLake, type SynthLakeSummary } from './synth/write-lake.js';
export { loadRecordsIntoLake } from './lake/load.js';
// Population-health analytics (issue 5): statistics, value sets, standard views.
export * from './analysis/stats.js';
export {
  STANDARD_POPULATIONS,
  standardWeights,
  toMedlakeBands,
} from './analysis/standard-populations.js';
export {
  loadValueSets,
  libraryValueSets,
  libraryValueSetDir,
  parseValueSetJson,
  parseValueSetCsv,
  validateValueSet,
  expandValueSet,
  valueSetContains,
  valueSetPredicate,
  valueSetRelation,
  ValueSetError,
  type ValueSet,
  type ValueSetCode,
} from './analysis/valuesets.js';
export {
  AnalysisContext,
  standardViews,
  standardViewsDir,
  type AnalysisOptions,
} from './analysis/context.js';
export { suppressSmallCells, DEFAULT_MIN_CELL } from './analysis/suppress.js';
export {
  incidence,
  prevalence,
  INCIDENCE_DIMENSIONS,
  PREVALENCE_DIMENSIONS,
} from './analysis/incidence.js';
export type {
  IncidenceOptions,
  IncidenceResult,
  PrevalenceOptions,
  PrevalenceResult,
} from './analysis/incidence.js';
export { analyzeSeasonality, type SeasonalityResult } from './analysis/seasonality.js';
export { analyzeGeography, type GeographyResult } from './analysis/geography.js';
export { analyzeCooccurrence, type CooccurrenceResult } from './analysis/cooccurrence.js';
export {
  parseCohortDefinition,
  parseCohortJson,
  compileCohort,
  buildCohort,
  cohortAttrition,
  CohortDefinitionError,
  type CohortDefinition,
} from './analysis/cohort.js';
export {
  characterize,
  type CharacterizeResult,
  type CohortInput,
} from './analysis/characterize.js';
export { renderPopulationReport } from './report/population-report.js';
export { populationReportData, type PopulationReportOptions } from './report/population.js';
export type { PopulationReportData } from './report/population-data.js';
