/** Import and tasks: POST /v2/images/{id}/import, GET /v2/images/{id}/tasks, /v2/tasks. */
import type { FastifyInstance } from 'fastify';
import { methodNotAllowed } from '../../domain/errors.js';
import type { Task } from '../../domain/task.js';
import type { ImportService } from '../../services/import/service.js';
import type { TaskListQuery, TasksService } from '../../services/tasks.js';
import { baseUrl, routes } from '../routing.js';
import { isoSeconds } from '../wire.js';

type IdParams = { id: string };

const time = (d: Date | null) => (d ? isoSeconds(d) : null);

/** The full task, as `GET /v2/tasks/{id}` shows it. */
export function taskToWire(t: Task): Record<string, unknown> {
  return {
    id: t.id,
    type: t.type,
    status: t.status,
    input: t.input,
    result: t.result,
    owner: t.owner,
    message: t.message,
    created_at: time(t.created_at),
    updated_at: time(t.updated_at),
    ...(t.expires_at ? { expires_at: time(t.expires_at) } : {}),
    ...(t.image_id ? { image_id: t.image_id } : {}),
    ...(t.request_id ? { request_id: t.request_id } : {}),
    ...(t.user_id ? { user_id: t.user_id } : {}),
    self: `/v2/tasks/${t.id}`,
    schema: '/v2/schemas/task',
  };
}

/** An image's task as `GET /v2/images/{id}/tasks` shows it: Glance's raw row view. */
function imageTaskToWire(t: Task): Record<string, unknown> {
  return {
    id: t.id,
    type: t.type,
    status: t.status,
    owner: t.owner,
    expires_at: time(t.expires_at),
    created_at: time(t.created_at),
    updated_at: time(t.updated_at),
    deleted_at: null,
    deleted: false,
    image_id: t.image_id,
    request_id: t.request_id,
    user_id: t.user_id,
    input: t.input,
    result: t.result,
    message: t.message,
  };
}

function stub(t: Task): Record<string, unknown> {
  const { input: _i, result: _r, message: _m, ...rest } = taskToWire(t);
  return rest;
}

export function taskRoutes(app: FastifyInstance, imports: ImportService, tasks: TasksService, publicEndpoint: string | null): void {
  routes(app, '/v2/images/:id/import', {
    POST: {
      body: true,
      handler: async (request, reply) => {
        const header = request.headers['x-image-meta-store'];
        await imports.start(request.ctx, (request.params as IdParams).id, request.body, typeof header === 'string' ? header : null);
        reply.code(202);
        return '';
      },
    },
  });
  routes(app, '/v2/images/:id/tasks', {
    GET: async (request) => ({ tasks: (await tasks.ofImage(request.ctx, (request.params as IdParams).id)).map(imageTaskToWire) }),
  });
  routes(app, '/v2/tasks', {
    POST: {
      body: true,
      handler: async (request, reply) => {
        const task = await tasks.create(request.ctx, request.body, (ctx, body) => imports.createLegacyTask(ctx, body));
        reply.code(201).header('location', `${baseUrl(request, publicEndpoint)}/v2/tasks/${task.id}`);
        return taskToWire(task);
      },
    },
    GET: async (request) => {
      const q = request.query as TaskListQuery;
      const list = await tasks.list(request.ctx, q);
      const query = new URLSearchParams(Object.entries(q).filter(([k]) => k !== 'marker') as [string, string][]).toString();
      const limit = q.limit === undefined ? null : Number(q.limit);
      const page: Record<string, unknown> = { tasks: list.map(stub), first: `/v2/tasks${query ? `?${query}` : ''}`, schema: '/v2/schemas/tasks' };
      if (list.length > 0 && (limit === null || list.length >= limit)) {
        page.next = `/v2/tasks?${query ? `${query}&` : ''}marker=${list[list.length - 1].id}`;
      }
      return page;
    },
  });
  routes(app, '/v2/tasks/:id', {
    GET: async (request) => taskToWire(await tasks.show(request.ctx, (request.params as IdParams).id)),
    DELETE: async (request) => {
      tasks.assertDeletable(request.ctx);
      throw methodNotAllowed('DELETE', ['GET']);
    },
  });
}
