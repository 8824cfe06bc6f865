/** `glimpse image inspect FILE`: the inspector's verdict on local files, as an operator runs it before an upload. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { type Corpus, corpusSkip, loadCorpus } from '../helpers/samples.js';
import { REPO_ROOT } from '../helpers/tools.js';

const BIN = path.join(REPO_ROOT, 'bin', 'glimpse');
const inspect = (...args: string[]) => spawnSync(process.execPath, [BIN, 'image', 'inspect', ...args], { encoding: 'utf8' });

describe('glimpse image inspect', { skip: corpusSkip() }, () => {
  let corpus: Corpus;
  const sample = (file: string) => path.join(corpus.dir, file);
  before(() => {
    corpus = loadCorpus();
  });

  it('reports format, virtual size and a pass for a good image, exit 0', () => {
    const res = inspect('-f', 'json', sample('vmdk-streamOptimized.vmdk'));
    assert.equal(res.status, 0, res.stderr);
    const out = JSON.parse(res.stdout);
    assert.deepEqual(
      { format: out.format, virtual_size: out.virtual_size, checks: out.checks, verdict: out.verdict, disk_format: out.disk_format },
      { format: 'vmdk', virtual_size: 2097152, checks: 'pass', verdict: 'accepted', disk_format: 'vmdk' },
    );
  });

  it('names what is unsafe and exits 1', () => {
    const res = inspect(sample('qcow2-datafile-etc-passwd.qcow2'));
    assert.equal(res.status, 1);
    assert.match(res.stdout, /qcow2 data_file: Image has data_file set \("\/etc\/passwd"\)/);
    assert.match(res.stdout, /refused: Image failed safety checks/);
  });

  it('judges against a declared disk_format, and takes [image_format] rules from --config', () => {
    const asVhd = inspect('-f', 'value', '-c', 'verdict', '--disk-format', 'vhd', sample('vhd-fixed.vhd'));
    assert.equal(asVhd.status, 1);
    assert.equal(asVhd.stdout.trim(), 'refused: Image disk_format vhd does not match stream data raw');
    assert.equal(inspect('--disk-format', 'raw', sample('vhd-fixed.vhd')).status, 0);
    const conf = path.join(corpus.dir, '..', `glimpse-inspect-${process.pid}.conf`);
    writeFileSync(conf, '[image_format]\nvmdk_allowed_types = streamOptimized\n');
    const strict = inspect('--config', conf, '-f', 'value', '-c', 'verdict', sample('vmdk-monolithicSparse.vmdk'));
    assert.equal(strict.status, 1);
    assert.match(strict.stdout, /not in vmdk_allowed_types/);
  });

  it('fails clearly on a missing file', () => {
    const res = inspect('/nonexistent/disk.img');
    assert.equal(res.status, 1);
    assert.match(res.stderr, /no such file/i);
  });
});
