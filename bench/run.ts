/**
 * `npm run bench [-- frost|ecdsa|arith|reference]`: one JSON line per measured phase, in the
 * layout of the design contract. All parties run in this process, messages pass through their wire encoding,
 * and the figure is the whole work of all parties (and, for signing, of the aggregator).
 */
import { benchArith } from './arith.js';
import { benchEcdsa } from './ecdsa.js';
import { benchFrost } from './frost.js';
import { benchReference } from './reference.js';

const suites: Record<string, () => void> = {
  frost: benchFrost,
  ecdsa: benchEcdsa,
  arith: benchArith,
  reference: benchReference,
};
const only = process.argv.slice(2);
for (const [name, run] of Object.entries(suites)) {
  if (only.length === 0 || only.includes(name)) run();
}
