/**
 * Reading tasks: an image's tasks (`GET /v2/images/{id}/tasks`, for whoever
 * may see the image) and the admin-only legacy Tasks API (`/v2/tasks`).
 */
import type { RequestContext } from '../auth/context.js';
import type { Policy } from '../auth/policy.js';
import type { TasksRepository } from '../db/tasks-repo.js';
import { badRequest, notFound } from '../domain/errors.js';
import type { Task } from '../domain/task.js';
import type { ImageAccess } from './image-access.js';

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const STATUSES = ['pending', 'processing', 'success', 'failure'];

export interface TaskListQuery {
  status?: string;
  type?: string;
  marker?: string;
  limit?: string;
  sort_dir?: string;
  sort_key?: string;
}

export interface TasksServiceDeps {
  tasks: TasksRepository;
  access: ImageAccess;
  policy: Policy;
  limits: { limitParamDefault: number; apiLimitMax: number };
}

export class TasksService {
  private readonly tasks: TasksRepository;
  private readonly policy: Policy;

  constructor(private readonly d: TasksServiceDeps) {
    ({ tasks: this.tasks, policy: this.policy } = d);
  }

  async ofImage(ctx: RequestContext, imageId: string): Promise<Task[]> {
    const { image } = await this.d.access.load(ctx, imageId);
    const tasks = await this.tasks.forImage(image.id);
    return ctx.isAdmin ? tasks : tasks.filter((t) => t.owner === ctx.projectId);
  }

  async show(ctx: RequestContext, id: string): Promise<Task> {
    this.policy.enforce(ctx, 'tasks_api_access', {});
    this.policy.enforce(ctx, 'get_task', {});
    const task = UUID.test(id) ? await this.tasks.get(id) : null;
    if (!task || (!ctx.isAdmin && task.owner !== ctx.projectId)) throw notFound(`Task with the given id ${id} not found`);
    return task;
  }

  async list(ctx: RequestContext, q: TaskListQuery): Promise<Task[]> {
    this.policy.enforce(ctx, 'tasks_api_access', {});
    this.policy.enforce(ctx, 'get_tasks', {});
    if (q.status !== undefined && !STATUSES.includes(q.status)) throw badRequest(`Invalid status value: ${q.status}`);
    if (q.sort_dir !== undefined && q.sort_dir !== 'asc' && q.sort_dir !== 'desc') throw badRequest(`Invalid sort direction: ${q.sort_dir}`);
    if (q.sort_key !== undefined && q.sort_key !== 'created_at') throw badRequest(`Invalid sort key: ${q.sort_key}`);
    const limit = q.limit === undefined ? this.d.limits.limitParamDefault : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 0) throw badRequest('limit param must be an integer');
    let marker: Task | undefined;
    if (q.marker !== undefined) {
      if (!UUID.test(q.marker)) throw badRequest('Invalid marker format');
      marker = (await this.tasks.get(q.marker)) ?? undefined;
      if (!marker) throw badRequest(`Invalid marker. Task ${q.marker} could not be found.`);
    }
    return this.tasks.list({
      owner: ctx.isAdmin ? undefined : (ctx.projectId ?? ''),
      status: q.status,
      type: q.type,
      marker,
      limit: Math.min(limit, this.d.limits.apiLimitMax),
      sortDir: q.sort_dir === 'asc' ? 'asc' : 'desc',
    });
  }

  /** `POST /v2/tasks`: the policy, then the import itself. */
  async create(ctx: RequestContext, body: unknown, start: (ctx: RequestContext, body: unknown) => Promise<Task>): Promise<Task> {
    this.policy.enforce(ctx, 'tasks_api_access', {});
    this.policy.enforce(ctx, 'add_task', {});
    return start(ctx, body);
  }

  /** Glance checks the policy, then refuses: tasks cannot be deleted. */
  assertDeletable(ctx: RequestContext): void {
    this.policy.enforce(ctx, 'tasks_api_access', {});
    this.policy.enforce(ctx, 'delete_task', {});
  }
}
