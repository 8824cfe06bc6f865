/** oslo.policy check strings and Glance's default rules. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type RequestContext, normaliseRoles } from '../../src/auth/context.js';
import { Policy } from '../../src/auth/policy.js';
import { PolicyParseError, evaluate, parseRule } from '../../src/auth/policy-rules.js';

const creds = { roles: ['member', 'reader'], project_id: 'p1', user_id: 'u1' };
const check = (rule: string, target: Record<string, unknown> = {}, rules: Record<string, string> = {}) =>
  evaluate(parseRule(rule), target, creds, (name) => (rules[name] === undefined ? undefined : parseRule(rules[name])));

function ctx(projectId: string | null, roles: string[]): RequestContext {
  const r = normaliseRoles(roles);
  return { requestId: 'req-1', userId: 'u', projectId, roles: r, isAdmin: r.includes('admin'), readOnly: false, authToken: null };
}

describe('policy check strings', () => {
  it('evaluates roles, generic checks, literals and constants', () => {
    assert.equal(check(''), true);
    assert.equal(check('@'), true);
    assert.equal(check('!'), false);
    assert.equal(check('role:member'), true);
    assert.equal(check('role:MEMBER'), true);
    assert.equal(check('role:admin'), false);
    assert.equal(check('project_id:%(project_id)s', { project_id: 'p1' }), true);
    assert.equal(check('project_id:%(project_id)s', { project_id: 'p2' }), false);
    assert.equal(check('project_id:%(project_id)s', {}), false);
    assert.equal(check("'public':%(visibility)s", { visibility: 'public' }), true);
    assert.equal(check('"public":%(visibility)s', { visibility: 'private' }), false);
    assert.equal(check('user_id:u1'), true);
  });

  it('honours not > and > or precedence and parentheses', () => {
    assert.equal(check('role:admin or role:member and role:reader'), true);
    assert.equal(check('role:admin or role:member and not role:reader'), false);
    assert.equal(check('(role:admin or role:member) and project_id:%(p)s', { p: 'p1' }), true);
    assert.equal(check('not (role:admin or role:member)'), false);
    assert.equal(check('role:admin or (role:member and (project_id:%(a)s or project_id:%(b)s))', { a: 'x', b: 'p1' }), true);
  });

  it('resolves rule: references and refuses malformed rules', () => {
    assert.equal(check('rule:is_member', {}, { is_member: 'role:member' }), true);
    assert.equal(check('rule:missing'), false);
    assert.throws(() => parseRule('role:admin or'), PolicyParseError);
    assert.throws(() => parseRule('(role:admin'), PolicyParseError);
    assert.throws(() => parseRule('admin'), PolicyParseError);
    assert.throws(() => check('rule:a', {}, { a: 'rule:a' }), PolicyParseError);
  });
});

describe("Glance's default rules", () => {
  const policy = new Policy();
  const image = (owner: string, visibility: string, member_id: string | null = null) => ({ project_id: owner, owner, visibility, member_id });

  it('lets members of the owning project write and readers only read', () => {
    assert.equal(policy.allowed(ctx('p1', ['member']), 'modify_image', image('p1', 'private')), true);
    assert.equal(policy.allowed(ctx('p1', ['reader']), 'modify_image', image('p1', 'private')), false);
    assert.equal(policy.allowed(ctx('p1', ['reader']), 'get_image', image('p1', 'private')), true);
    assert.equal(policy.allowed(ctx('p1', ['reader']), 'download_image', image('p1', 'private')), false);
    assert.equal(policy.allowed(ctx('p2', ['member']), 'modify_image', image('p1', 'public')), false);
    assert.equal(policy.allowed(ctx('p2', ['member']), 'get_image', image('p1', 'private')), false);
    assert.equal(policy.allowed(ctx('p2', ['member']), 'get_image', image('p1', 'community')), true);
    assert.equal(policy.allowed(ctx('p2', ['member']), 'download_image', image('p1', 'shared', 'p2')), true);
    assert.equal(policy.allowed(ctx('p2', ['member']), 'modify_member', image('p1', 'shared', 'p2')), true);
    assert.equal(policy.allowed(ctx('p1', ['member']), 'modify_member', image('p1', 'shared')), false);
  });

  it('keeps publicize and copy for admins and lets operators override any rule', () => {
    assert.equal(policy.allowed(ctx('p1', ['member']), 'publicize_image', image('p1', 'private')), false);
    assert.equal(policy.allowed(ctx('p1', ['admin']), 'publicize_image', image('p1', 'private')), true);
    assert.equal(policy.allowed(ctx('p1', ['member']), 'communitize_image', image('p1', 'private')), true);
    const custom = new Policy({ publicize_image: 'role:member', get_images: '!' });
    assert.equal(custom.allowed(ctx('p1', ['member']), 'publicize_image', image('p1', 'private')), true);
    assert.equal(custom.allowed(ctx('p1', ['admin']), 'get_images', { project_id: 'p1' }), false);
  });

  it('expands Keystone\'s implied roles', () => {
    assert.deepEqual(normaliseRoles(['Admin']).sort(), ['admin', 'member', 'reader']);
    assert.deepEqual(normaliseRoles([' member ', '']).sort(), ['member', 'reader']);
  });
});
