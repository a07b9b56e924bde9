/**
 * `npm run bench [-- frost|ecdsa|arith|reference|sign_api]`: one JSON line per measured phase, in
 * the layout of the design contract. In the in-process suites all parties run in this process,
 * messages pass through their wire encoding, and the figure is the whole work of all parties
 * (and, for signing, of the aggregator). `sign_api` instead starts the whole local system
 * (`mpc-kms sim up`) and times signing through its REST API (sign-api.ts).
 */
import { benchArith } from './arith.js';
import { benchEcdsa } from './ecdsa.js';
import { benchFrost } from './frost.js';
import { benchReference } from './reference.js';
import { benchSignApi, signApiConfig } from './sign-api.js';

const suites: Record<string, () => void | Promise<void>> = {
  frost: benchFrost,
  ecdsa: benchEcdsa,
  arith: benchArith,
  reference: benchReference,
  sign_api: () => benchSignApi(signApiConfig(process.env)),
};
const only = process.argv.slice(2);
for (const [name, run] of Object.entries(suites)) {
  if (only.length === 0 || only.includes(name)) await run();
}
