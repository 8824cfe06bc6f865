/**
 * Validation against the very schema documents the API publishes, with
 * messages that name the offending field.
 */
import AjvModule, { type ErrorObject, type ValidateFunction } from 'ajv';
import { badRequest } from '../domain/errors.js';
import type { JsonSchema } from '../domain/schemas.js';

const Ajv = AjvModule.default ?? AjvModule;
// Glance's schemas carry extra keywords (readOnly, is_base, links, name): not strict.
const ajv = new Ajv({ strict: false, allErrors: false, validateFormats: false });

export class SchemaValidator {
  private readonly validateFn: ValidateFunction;

  constructor(
    private readonly schemaName: string,
    schema: JsonSchema,
  ) {
    const { name: _n, links: _l, ...body } = schema;
    this.validateFn = ajv.compile(body);
  }

  /** Throws 400 naming the first field that does not match. */
  validate(value: unknown): void {
    if (this.validateFn(value)) return;
    throw badRequest(`Provided object does not match schema '${this.schemaName}': ${describe(this.validateFn.errors?.[0])}`);
  }
}

function describe(error: ErrorObject | undefined): string {
  if (!error) return 'invalid value';
  const field = error.instancePath
    ? error.instancePath.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).join('.')
    : (error.params as { missingProperty?: string }).missingProperty;
  const detail =
    error.keyword === 'enum'
      ? `must be one of ${JSON.stringify((error.params as { allowedValues: unknown[] }).allowedValues)}`
      : error.message ?? 'is invalid';
  return field ? `'${field}' ${detail}` : detail;
}
