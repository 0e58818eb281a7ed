// Generates the test-only key fixtures under keys/. Run once with `node gen-keys.mjs`;
// the output is checked in so that every test run uses the same keys.
// These keys protect nothing: they exist only for the test suite. The PKCS#1 and SEC1 variants were made
// from the PKCS#8 files with `openssl pkey -in client-rs256.pem -traditional -out client-rs256.pkcs1.pem`
// (and likewise client-es256.sec1.pem).
import { generateKeyPair, exportJWK, exportPKCS8 } from 'jose';
import { writeFileSync, mkdirSync } from 'node:fs';

mkdirSync(new URL('./keys/', import.meta.url), { recursive: true });
const out = (name, data) => writeFileSync(new URL(`./keys/${name}`, import.meta.url), data);

// The authorization server's signing keys, one per algorithm.
const server = [];
for (const [alg, opts] of [['RS256', { modulusLength: 2048 }], ['PS256', { modulusLength: 2048 }], ['ES256', {}], ['EdDSA', { crv: 'Ed25519' }]]) {
  const { privateKey } = await generateKeyPair(alg, { ...opts, extractable: true });
  const jwk = await exportJWK(privateKey);
  server.push({ ...jwk, kid: `server-${alg.toLowerCase()}`, alg, use: 'sig' });
}
out('server-jwks.json', JSON.stringify({ keys: server }, null, 2) + '\n');

// Client keys for private_key_jwt: the private half as PKCS#8 PEM and as a JWK, the public half as a JWKS.
for (const [alg, opts] of [['RS256', { modulusLength: 2048 }], ['ES256', {}], ['PS256', { modulusLength: 2048 }], ['EdDSA', { crv: 'Ed25519' }]]) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { ...opts, extractable: true });
  const kid = `client-${alg.toLowerCase()}`;
  out(`client-${alg.toLowerCase()}.pem`, await exportPKCS8(privateKey));
  out(`client-${alg.toLowerCase()}.private.jwk.json`, JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg }, null, 2) + '\n');
  out(`client-${alg.toLowerCase()}.public.jwk.json`, JSON.stringify({ ...(await exportJWK(publicKey)), kid, alg, use: 'sig' }, null, 2) + '\n');
}
