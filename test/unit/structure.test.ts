/**
 * The house rules of docs/architecture.md, checked on the source: no file
 * imports from a floor above its own, and no function outside data tables
 * runs over 80 lines.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src');

/** The floors, lowest first (docs/architecture.md). */
const FLOOR: Record<string, number> = {
  domain: 0, net: 0, formats: 0, insight: 0, config: 1, metrics: 1, db: 2, store: 2, cache: 2, notify: 2, auth: 3, services: 4, api: 5, 'server.ts': 6, cli: 7, web: 7,
};
/** Data tables, allowed to be long: Glance's schema as DDL. */
const DATA_TABLES = new Set(['db/glance-schema.ts:glanceSchemaDdl']);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

const folderOf = (file: string) => path.relative(SRC, file).split(path.sep)[0];

describe('source structure', () => {
  it('imports only from its own floor or the floors below', () => {
    const upward: string[] = [];
    for (const file of sources(SRC)) {
      const from = folderOf(file);
      for (const m of readFileSync(file, 'utf8').matchAll(/from\s+'(\.[^']+)'/g)) {
        const to = folderOf(path.resolve(path.dirname(file), m[1]).replace(/\.js$/, '.ts'));
        assert.ok(from in FLOOR && to in FLOOR, `${path.relative(SRC, file)}: unknown floor for ${from} or ${to}`);
        if (FLOOR[to] > FLOOR[from]) upward.push(`${path.relative(SRC, file)} -> ${m[1]}`);
      }
    }
    assert.deepEqual(upward, []);
  });

  it('has no function over 80 lines outside data tables', () => {
    const long: string[] = [];
    for (const file of sources(SRC)) {
      const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
      const visit = (node: ts.Node): void => {
        if (ts.isFunctionLike(node) && 'body' in node && node.body) {
          const lines = source.getLineAndCharacterOfPosition(node.getEnd()).line - source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
          const name = `${path.relative(SRC, file)}:${node.name?.getText(source) ?? '(anonymous)'}`;
          if (lines > 80 && !DATA_TABLES.has(name)) long.push(`${name} (${lines} lines)`);
        }
        ts.forEachChild(node, visit);
      };
      visit(source);
    }
    assert.deepEqual(long, []);
  });
});
