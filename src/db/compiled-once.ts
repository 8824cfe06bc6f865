/**
 * Kysely builds a query's tree and compiles it to SQL on every call; for an
 * image show (four small queries) that cost about as much CPU as SQLite
 * running them. A query whose shape never changes is compiled once, and
 * later calls run the same SQL with their own parameters.
 */
import { type Compilable, CompiledQuery, type Kysely } from 'kysely';

export class CompiledOnce {
  private readonly sqlByShape = new Map<string, string>();

  /**
   * Runs the query `build` makes, with `parameters` in the order the builder
   * binds them (checked against the builder the first time, so a wrong order
   * fails at once rather than reading the wrong rows). `shape` names what
   * fixes the SQL text: the query and, for IN lists, their length.
   */
  async rows<R>(k: Kysely<any>, shape: string, parameters: readonly unknown[], build: () => Compilable<R>): Promise<R[]> {
    let sql = this.sqlByShape.get(shape);
    if (sql === undefined) {
      const compiled = build().compile();
      const same = compiled.parameters.length === parameters.length && compiled.parameters.every((p, i) => p === parameters[i]);
      if (!same) throw new Error(`compiled-once query ${shape}: parameters ${JSON.stringify(parameters)} are not the builder's ${JSON.stringify(compiled.parameters)}`);
      sql = compiled.sql;
      this.sqlByShape.set(shape, sql);
    }
    return (await k.executeQuery<R>(CompiledQuery.raw(sql, [...parameters]))).rows;
  }
}
