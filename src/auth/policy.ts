/**
 * Glance's policy: named actions with their default rules (secure RBAC, the
 * defaults since 2023.1), checked explicitly by the services.
 */
import { forbidden } from '../domain/errors.js';
import type { RequestContext } from './context.js';
import { type Check, type Credentials, type Target, evaluate, parseRule } from './policy-rules.js';

const ADMIN = 'rule:context_is_admin';
const PROJECT_MEMBER = 'role:member and project_id:%(project_id)s';
const PROJECT_READER = 'role:reader and project_id:%(project_id)s';
const ADMIN_OR_PROJECT_MEMBER = `${ADMIN} or (${PROJECT_MEMBER})`;
const ADMIN_OR_PROJECT_READER = `${ADMIN} or (${PROJECT_READER})`;
const VISIBLE_TO = `(project_id:%(project_id)s or project_id:%(member_id)s or 'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s)`;
const ADMIN_OR_SHARED_MEMBER = `${ADMIN} or (role:member and project_id:%(member_id)s)`;
const ADMIN_OR_PROJECT_READER_OR_SHARED_MEMBER = `${ADMIN} or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s))`;

/** Glance's default rules, by Glance's own names so operators' policy files apply unchanged. */
export const DEFAULT_RULES: Readonly<Record<string, string>> = {
  context_is_admin: 'role:admin',
  default: '',
  service_api: 'role:service or role:admin',
  add_image: `${ADMIN} or (role:member and project_id:%(owner)s)`,
  delete_image: ADMIN_OR_PROJECT_MEMBER,
  get_image: `${ADMIN} or (role:reader and ${VISIBLE_TO})`,
  get_images: ADMIN_OR_PROJECT_READER,
  modify_image: ADMIN_OR_PROJECT_MEMBER,
  publicize_image: 'role:admin',
  communitize_image: ADMIN_OR_PROJECT_MEMBER,
  download_image: `${ADMIN} or (role:member and ${VISIBLE_TO})`,
  upload_image: ADMIN_OR_PROJECT_MEMBER,
  delete_image_location: 'role:admin',
  get_image_location: ADMIN_OR_PROJECT_READER,
  set_image_location: ADMIN_OR_PROJECT_MEMBER,
  add_image_location: `rule:service_api or (${PROJECT_MEMBER})`,
  fetch_image_location: 'rule:service_api',
  add_member: ADMIN_OR_PROJECT_MEMBER,
  delete_member: ADMIN_OR_PROJECT_MEMBER,
  get_member: ADMIN_OR_PROJECT_READER_OR_SHARED_MEMBER,
  get_members: ADMIN_OR_PROJECT_READER_OR_SHARED_MEMBER,
  modify_member: ADMIN_OR_SHARED_MEMBER,
  deactivate: ADMIN_OR_PROJECT_MEMBER,
  reactivate: ADMIN_OR_PROJECT_MEMBER,
  copy_image: 'role:admin',
  tasks_api_access: 'role:admin',
  get_task: 'rule:default',
  get_tasks: 'rule:default',
  add_task: 'rule:default',
  modify_task: 'rule:default',
  stores_info_detail: 'role:admin or role:service',
  manage_image_cache: 'role:admin',
  cache_image: ADMIN,
  cache_list: ADMIN,
  cache_delete: ADMIN,
  cache_clean: ADMIN,
  cache_prune: ADMIN,
  list_cached_nodes: ADMIN,
  manage_webhooks: ADMIN,
  // Glimpse's: deprecating is changing the image, so by default whoever may modify it may.
  deprecate_image: 'rule:modify_image',
  // Glimpse's: a project sets the retention of its own images of a family.
  manage_family_retention: ADMIN_OR_PROJECT_MEMBER,
  metadef_default: '',
  metadef_admin: 'role:admin',
  get_metadef_namespace: `${ADMIN} or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))`,
  get_metadef_namespaces: ADMIN_OR_PROJECT_READER,
  list_metadef_resource_types: ADMIN_OR_PROJECT_READER,
  ...Object.fromEntries(
    [
      'add_metadef_namespace', 'modify_metadef_namespace', 'delete_metadef_namespace', 'add_metadef_object', 'modify_metadef_object',
      'delete_metadef_object', 'add_metadef_property', 'modify_metadef_property', 'remove_metadef_property', 'add_metadef_tag',
      'modify_metadef_tag', 'delete_metadef_tag', 'add_metadef_tags', 'delete_metadef_tags', 'add_metadef_resource_type_association',
      'remove_metadef_resource_type_association',
    ].map((action) => [action, 'rule:metadef_admin']),
  ),
};

const OWNER_OR_ADMIN = 'role:admin or project_id:%(project_id)s';

/**
 * The legacy defaults (`enforce_new_defaults = false`): roles other than admin
 * do not matter, ownership does — what Glance's deprecated rules and its
 * hard-coded owner checks together allowed.
 */
export const LEGACY_RULES: Readonly<Record<string, string>> = {
  ...DEFAULT_RULES,
  add_image: 'role:admin or project_id:%(owner)s',
  delete_image: OWNER_OR_ADMIN,
  get_image: '',
  get_images: '',
  modify_image: OWNER_OR_ADMIN,
  communitize_image: OWNER_OR_ADMIN,
  download_image: '',
  upload_image: OWNER_OR_ADMIN,
  get_image_location: '',
  set_image_location: OWNER_OR_ADMIN,
  add_image_location: OWNER_OR_ADMIN,
  add_member: OWNER_OR_ADMIN,
  delete_member: OWNER_OR_ADMIN,
  get_member: '',
  get_members: '',
  modify_member: 'role:admin or project_id:%(member_id)s',
  deactivate: OWNER_OR_ADMIN,
  reactivate: OWNER_OR_ADMIN,
  ...Object.fromEntries(['cache_image', 'cache_list', 'cache_delete'].map((action) => [action, 'rule:manage_image_cache'])),
};

export type PolicyAction = keyof typeof DEFAULT_RULES | (string & {});

/** A rule of the operator's policy file that does not parse. */
export class PolicyRuleError extends Error {}

export class Policy {
  private readonly rules = new Map<string, Check>();

  /**
   * Defaults (new or legacy), overridden rule by rule by the operator's
   * policy file. Every rule is parsed here, once: a bad one stops start-up.
   */
  constructor(overrides: Readonly<Record<string, string>> = {}, legacy = false) {
    for (const [name, rule] of Object.entries({ ...(legacy ? LEGACY_RULES : DEFAULT_RULES), ...overrides })) {
      try {
        this.rules.set(name, parseRule(rule));
      } catch (err) {
        throw new PolicyRuleError(`policy rule "${name}": ${(err as Error).message}`);
      }
    }
  }

  /** `context_is_admin`, which operators may redefine. */
  isAdmin(ctx: RequestContext): boolean {
    return this.allowed(ctx, 'context_is_admin', {});
  }

  allowed(ctx: RequestContext, action: PolicyAction, target: Target): boolean {
    const check = this.rules.get(action) ?? this.rules.get('default');
    if (!check) return false;
    return evaluate(check, target, credentials(ctx), (name) => this.rules.get(name));
  }

  /** Throws 403 with Glance's wording when the action is not allowed. */
  enforce(ctx: RequestContext, action: PolicyAction, target: Target, message?: string): void {
    if (!this.allowed(ctx, action, target)) {
      throw forbidden(message ?? `You are not authorized to complete ${action} action.`);
    }
  }
}

function credentials(ctx: RequestContext): Credentials {
  return { roles: ctx.roles, project_id: ctx.projectId, user_id: ctx.userId, is_admin: ctx.isAdmin };
}
