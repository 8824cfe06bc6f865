/**
 * glance-manage's metadef jobs on files: load (with --merge, --prefer-new,
 * --overwrite), unload, export. One namespace per JSON file, in Glance's
 * format, so Glance's shipped files load unchanged and exported files load
 * into Glance.
 */
import { mkdirSync, opendirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from '../db/connection.js';
import { MetadefsRepository } from '../db/metadefs-repo.js';
import { type MetadefsService, type NamespaceDocument, importChildren, importNamespace, namespaceFields } from './metadefs.js';

/** Glimpse's own catalog (catalog/metadefs in the package), written for Glimpse in Glance's file format. */
export const BUILTIN_CATALOG = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'catalog', 'metadefs');

/** A database Glimpse has just created starts with the built-in catalog (Glance's starts empty). */
export async function seedCatalog(db: Db): Promise<LoadReport> {
  return loadMetadefs(new MetadefsRepository(db), BUILTIN_CATALOG);
}

export interface LoadOptions {
  merge?: boolean;
  preferNew?: boolean;
  overwrite?: boolean;
}

export interface LoadReport {
  loaded: string[];
  merged: string[];
  skipped: string[];
  errors: string[];
}

/**
 * The JSON files of a path: the file itself, or every *.json directly in the
 * directory, in the directory's own order, unsorted, as Glance's os.listdir
 * gives them: namespaces loaded in one second tie on created_at and are then
 * listed by id, so loading in Glance's order gives Glance's first page.
 */
export function metadefFiles(source: string): string[] {
  const stat = statSync(source);
  if (stat.isFile()) return [source];
  const names: string[] = [];
  const dir = opendirSync(source);
  try {
    for (let entry = dir.readSync(); entry; entry = dir.readSync()) names.push(entry.name);
  } finally {
    dir.closeSync();
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .map((n) => path.join(source, n))
    .filter((f) => statSync(f).isFile());
}

/** A metadefs file or directory that cannot be loaded as asked. */
export class MetadefFileError extends Error {}

export async function loadMetadefs(repo: MetadefsRepository, source: string, o: LoadOptions = {}): Promise<LoadReport> {
  if ((o.preferNew || o.overwrite) && !o.merge) throw new MetadefFileError('--prefer-new and --overwrite need --merge');
  if (o.preferNew && o.overwrite) throw new MetadefFileError('--prefer-new and --overwrite exclude each other');
  const files = metadefFiles(source);
  if (files.length === 0) throw new MetadefFileError(`no .json files in ${source}`);
  const report: LoadReport = { loaded: [], merged: [], skipped: [], errors: [] };
  for (const file of files) {
    let doc: NamespaceDocument;
    try {
      doc = JSON.parse(readFileSync(file, 'utf8')) as NamespaceDocument;
      if (!doc || typeof doc.namespace !== 'string') throw new MetadefFileError('no "namespace" in it');
    } catch (err) {
      report.errors.push(`${file}: ${(err as Error).message}`);
      continue;
    }
    const fromFile = { ...doc, owner: doc.owner ?? 'admin' };
    await repo.transaction(async (trx) => {
      const existing = await trx.namespace(doc.namespace);
      if (!existing) {
        await importNamespace(trx, fromFile, true);
        report.loaded.push(doc.namespace);
      } else if (!o.merge) {
        report.skipped.push(doc.namespace);
      } else if (o.overwrite) {
        await trx.deleteNamespaceRows(existing.id);
        await importNamespace(trx, fromFile, true);
        report.merged.push(doc.namespace);
      } else {
        const ns = o.preferNew ? await trx.updateNamespace(existing.id, namespaceFields(fromFile), existing.namespace) : existing;
        await importChildren(trx, ns, fromFile, true, o.preferNew ? 'overwrite' : 'skip');
        report.merged.push(doc.namespace);
      }
    });
  }
  return report;
}

/** Glance's export file name: display_name (else namespace) with every non-alphanumeric character removed. */
export function exportFileName(doc: NamespaceDocument): string {
  return `${(doc.display_name || doc.namespace).replace(/[^A-Za-z0-9]/g, '')}.json`;
}

export async function exportMetadefs(repo: MetadefsRepository, service: MetadefsService, target: string): Promise<string[]> {
  mkdirSync(target, { recursive: true });
  const written: string[] = [];
  for (const ns of await repo.allNamespaces()) {
    const { owner: _o, ...doc } = await service.document(ns);
    const file = path.join(target, exportFileName(doc));
    writeFileSync(file, `${JSON.stringify(doc, null, 4)}\n`);
    written.push(file);
  }
  return written;
}
