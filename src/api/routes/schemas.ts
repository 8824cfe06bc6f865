/** GET /v2/schemas/*: the documents requests are validated against. */
import type { FastifyInstance } from 'fastify';
import { METADEF_SCHEMAS } from '../../domain/metadef-schemas.js';
import { type JsonSchema, MEMBERS_SCHEMA, MEMBER_SCHEMA, TASKS_SCHEMA, TASK_SCHEMA, imagesSchema } from '../../domain/schemas.js';
import { routes } from '../routing.js';

export function schemaRoutes(app: FastifyInstance, image: JsonSchema): void {
  const documents: Record<string, JsonSchema> = {
    image,
    images: imagesSchema(image),
    member: MEMBER_SCHEMA,
    members: MEMBERS_SCHEMA,
    task: TASK_SCHEMA,
    tasks: TASKS_SCHEMA,
    ...METADEF_SCHEMAS,
  };
  for (const [name, document] of Object.entries(documents)) {
    const text = JSON.stringify(document);
    routes(app, `/v2/schemas/${name}`, {
      GET: async (_request, reply) => reply.type('application/json').send(text),
    });
  }
}
