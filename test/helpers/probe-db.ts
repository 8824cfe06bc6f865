/** `node probe-db.js postgres|mysql`: exit 0 when that database server answers. */
import { type TestDialect, reachable } from './databases.js';

reachable(process.argv[2] as TestDialect).then((ok) => process.exit(ok ? 0 : 1));
