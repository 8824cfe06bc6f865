/** glance-api.conf parsing and the typed configuration. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig, parseByteSize } from '../../src/config/config.js';
import { IniReader, parseIni } from '../../src/config/ini.js';
import { ConfigError } from '../../src/config/validate.js';

describe('ini', () => {
  it('reads sections, continuation lines, repeated keys and oslo value types', () => {
    const ini = new IniReader(
      parseIni('# comment\n[DEFAULT]\nflag = True\nn = 42\nlist = a, b ,c\ndict = x:1,y:2\nkey = first\nkey = second\n[cors]\nallowed_origin = https://a,\n  https://b\n'),
    );
    assert.equal(ini.bool('DEFAULT', 'flag'), true);
    assert.equal(ini.int('DEFAULT', 'n'), 42);
    assert.deepEqual(ini.list('DEFAULT', 'list'), ['a', 'b', 'c']);
    assert.deepEqual(ini.dict('DEFAULT', 'dict'), { x: '1', y: '2' });
    assert.equal(ini.str('DEFAULT', 'key'), 'second');
    assert.deepEqual(ini.list('cors', 'allowed_origin'), ['https://a', 'https://b']);
    assert.equal(ini.str('DEFAULT', 'missing'), undefined);
    assert.throws(() => new IniReader(parseIni('[DEFAULT]\nn = lots\n')).int('DEFAULT', 'n'), /not an integer/);
    assert.throws(() => parseIni('key = before any section\n'), /cannot parse/);
  });

  it('reads [DEFAULT] workers as Glance does: one per CPU by default, 0 or 1 one process, --workers overriding', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'glimpse-ini-'));
    const file = path.join(dir, 'glance-api.conf');
    assert.equal(loadConfig({ dataDir: dir }).workers, availableParallelism());
    for (const [value, expected] of [['0', 1], ['1', 1], ['4', 4]] as const) {
      writeFileSync(file, `[DEFAULT]\nworkers = ${value}\n`);
      assert.equal(loadConfig({ config: file, dataDir: dir }).workers, expected);
    }
    assert.equal(loadConfig({ config: file, dataDir: dir, workers: '2' }).workers, 2);
    writeFileSync(file, '[DEFAULT]\nworkers = many\n');
    assert.throws(() => loadConfig({ config: file, dataDir: dir }), /workers must be a whole number/);
  });

  it('builds the configuration with Glance\'s defaults, and flags win over the file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'glimpse-ini-'));
    const file = path.join(dir, 'glance-api.conf');
    writeFileSync(file, '[DEFAULT]\nbind_port = 9999\nimage_tag_quota = 5\nuser_storage_quota = 2GB\n[database]\nconnection = sqlite:////tmp/x.sqlite\n[paste_deploy]\nflavor = keystone\n' +
      '[keystone_authtoken]\nauth_url = http://127.0.0.1:5001\nusername = glance\npassword = secret\nproject_name = service\n');
    const config = loadConfig({ config: file, dataDir: dir, auth: 'headers' });
    assert.equal(config.bindPort, 9999);
    assert.equal(config.bindHost, '127.0.0.1');
    assert.equal(config.imageTagQuota, 5);
    assert.equal(config.imagePropertyQuota, 128);
    assert.equal(config.userStorageQuota, 2 * 1024 ** 3);
    assert.equal(config.database, 'sqlite:////tmp/x.sqlite');
    assert.equal(config.auth, 'headers');
    assert.equal(loadConfig({ config: file }).auth, 'keystone');
    assert.equal(loadConfig({ config: file, bind: '0.0.0.0:1234' }).bindPort, 1234);
    assert.throws(() => loadConfig({ bind: 'nonsense' }), /HOST:PORT/);
    assert.throws(() => loadConfig({ auth: 'magic' }), /auth mode/);
    assert.throws(() => loadConfig({ config: path.join(dir, 'missing.conf') }), /does not exist/);
    writeFileSync(file, '[paste_deploy]\nflavor = keystone\n');
    assert.throws(() => loadConfig({ config: file }), ConfigError, 'keystone mode without [keystone_authtoken] stops at load');
    assert.throws(() => loadConfig({ bind: '0.0.0.0:9292' }), /refusing to serve without authentication/);
    assert.equal(loadConfig({ bind: '0.0.0.0:9292' }, 'tool').auth, 'noauth', 'tools such as manage do not serve, so the exposure check is not theirs');
    assert.equal(parseByteSize('10KB'), 10240);
    assert.throws(() => parseByteSize('ten'), /not a size/);
  });
});
