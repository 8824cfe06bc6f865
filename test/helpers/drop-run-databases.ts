/** `node drop-run-databases.js RUN`: drops the PostgreSQL and MariaDB test databases a test run left (failed suites included). */
import { dropRunDatabases, reachable } from './databases.js';

const run = process.argv[2];
for (const dialect of ['postgres', 'mysql'] as const) {
  if (!(await reachable(dialect))) continue;
  const dropped = await dropRunDatabases(dialect, run);
  if (dropped.length) console.log(`dropped ${dropped.length} ${dialect} test database(s) left by failed suites`);
}
