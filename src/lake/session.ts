/**
 * A query session over a lake: an engine (embedded DuckDB, or a Spark cluster) with one
 * table per resource type and per materialised view, ready for compiled ViewDefinitions
 * and plain SQL.
 */
import type { Engine, QueryResult, RowStream } from '../engine/engine.js';
import { openEngine, type EngineChoice } from '../engine/open-engine.js';
import { FHIR_R4_RESOURCE_TYPES } from '../ingest/resource-types.js';
import { Lake } from './lake.js';

export type SessionOptions = EngineChoice;

export class LakeSession {
  private constructor(
    readonly lake: Lake,
    readonly engine: Engine,
  ) {}

  static async open(dir: string, options: SessionOptions = {}): Promise<LakeSession> {
    const lake = Lake.open(dir);
    const engine = await openEngine(options);
    try {
      // Every resource type gets a table, so a view over a type the lake lacks returns no rows.
      await lake.register(engine, FHIR_R4_RESOURCE_TYPES);
    } catch (err) {
      await engine.close();
      throw err;
    }
    return new LakeSession(lake, engine);
  }

  /** Columns of a resource type as the compiler needs them. */
  readonly columnsOf = (resourceType: string): ReadonlySet<string> => {
    const cols = this.lake.columnsOf(resourceType);
    return cols.size === 0 ? new Set(['id']) : cols;
  };

  sql(query: string): Promise<QueryResult> {
    return this.engine.query(query);
  }

  stream(query: string): Promise<RowStream> {
    return this.engine.stream(query);
  }

  async close(): Promise<void> {
    await this.engine.close();
  }
}
