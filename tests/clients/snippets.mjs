// Prints the dashboard's client snippets as JSON, from the same module the setup page renders:
//   node tests/clients/snippets.mjs BASE KEY GROUP
import { CLIENTS } from '../../static_spa/js/snippets.js';

const [base, key, group] = process.argv.slice(2);
const out = CLIENTS.map((c) => ({ id: c.id, checked: c.checked, blocks: c.build(base, key, group) }));
process.stdout.write(JSON.stringify(out));
