// Mints the verifier's test tokens with implementations independent of telnyx-oauth: `jose` for the
// well-formed tokens, Node's own crypto (OpenSSL) for the hand-crafted hostile ones.
// Run: `node mint-hostile.mjs` (from tests/interop). Writes tests/fixtures/verify/{jwks,tokens}.json and
// the rotation key sets. The tests pin their clock to NOW, so the checked-in tokens never expire.
import * as jose from 'jose';
import crypto from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

const NOW = 1_800_000_000;
const ISS = 'https://issuer.test';
const AUD = 'https://api.test';
const out = (name, data) =>
  writeFileSync(new URL(`../fixtures/verify/${name}`, import.meta.url), JSON.stringify(data, null, 2) + '\n');

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const enc = (obj) => b64u(typeof obj === 'string' ? obj : JSON.stringify(obj));

// Keys: the interop server's four, plus ES384, a second P-256, decoys and rotation keys.
const server = JSON.parse(readFileSync(new URL('./keys/server-jwks.json', import.meta.url), 'utf8')).keys;
const priv = {};
for (const k of server) priv[k.alg] = crypto.createPrivateKey({ key: k, format: 'jwk' });
const gen = (type, opts) => crypto.generateKeyPairSync(type, opts);
const es384 = gen('ec', { namedCurve: 'P-384' });
const es256b = gen('ec', { namedCurve: 'P-256' });
const rsa1024 = gen('rsa', { modulusLength: 1024 });
const encKey = gen('rsa', { modulusLength: 2048 });
const attackerRsa = gen('rsa', { modulusLength: 2048 });
const rotA = gen('rsa', { modulusLength: 2048 });
const rotB = gen('rsa', { modulusLength: 2048 });
const octSecret = crypto.randomBytes(32);

const pub = (keyObject, extra) => ({ ...keyObject.export({ format: 'jwk' }), ...extra });
const publicOf = (k) => {
  const { d, p, q, dp, dq, qi, ...rest } = k;
  return rest;
};
const jwks = {
  keys: [
    ...server.map(publicOf).map((k) => ({ ...k, kid: k.alg.toLowerCase() })),
    pub(es384.publicKey, { kid: 'es384', alg: 'ES384', use: 'sig' }),
    pub(es256b.publicKey, { kid: 'es256-b', alg: 'ES256', use: 'sig' }),
    pub(rsa1024.publicKey, { kid: 'rsa1024', alg: 'RS256', use: 'sig' }),
    pub(encKey.publicKey, { kid: 'enc-key', alg: 'RS256', use: 'enc' }),
    { kty: 'oct', kid: 'oct', alg: 'HS256', k: b64u(octSecret) },
    { ...pub(attackerRsa.privateKey, { kid: 'leaky', alg: 'RS256' }) },
  ],
};
out('jwks.json', jwks);
out('jwks-rotation-a.json', { keys: [pub(rotA.publicKey, { kid: 'rot-a', alg: 'RS256', use: 'sig' })] });
out('jwks-rotation-b.json', { keys: [pub(rotB.publicKey, { kid: 'rot-b', alg: 'RS256', use: 'sig' })] });

const claims = (extra = {}) => ({ iss: ISS, aud: AUD, sub: 'user-1', client_id: 'client-1', iat: NOW - 10, exp: NOW + 3600, jti: 'j1', scope: 'read write', ...extra });

// Raw signing with Node's crypto, over whatever header and payload text we choose.
function rawSign(alg, key, headerText, payloadText, opts = {}) {
  const input = `${enc(headerText)}.${enc(payloadText)}`;
  const data = Buffer.from(input);
  let sig;
  if (alg === 'HS256') sig = crypto.createHmac('sha256', key).update(data).digest();
  else if (alg === 'RS256') sig = crypto.sign('sha256', data, key);
  else if (alg === 'PS256') sig = crypto.sign('sha256', data, { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  else if (alg === 'ES256') sig = crypto.sign('sha256', data, { key, dsaEncoding: opts.der ? 'der' : 'ieee-p1363' });
  else if (alg === 'ES384') sig = crypto.sign('sha384', data, { key, dsaEncoding: 'ieee-p1363' });
  else if (alg === 'EdDSA') sig = crypto.sign(null, data, key);
  else if (alg === 'none') sig = Buffer.alloc(0);
  else throw new Error(alg);
  return `${input}.${b64u(sig)}`;
}
const j = JSON.stringify;
const raw = (alg, key, header, payload = claims(), opts) => rawSign(alg, key, j(header), j(payload), opts);

async function joseSign(alg, keyObject, kid, extraHeader = {}, payload = claims()) {
  return new jose.SignJWT(payload).setProtectedHeader({ alg, kid, typ: 'at+jwt', ...extraHeader }).sign(keyObject);
}

const tokens = [];
const add = (name, token, expect) => tokens.push({ name, token, expect });

// Valid, from jose.
add('valid RS256', await joseSign('RS256', priv.RS256, 'rs256'), 'ok');
add('valid PS256', await joseSign('PS256', priv.PS256, 'ps256'), 'ok');
add('valid ES256', await joseSign('ES256', priv.ES256, 'es256'), 'ok');
add('valid ES384', await joseSign('ES384', es384.privateKey, 'es384'), 'ok');
add('valid EdDSA', await joseSign('EdDSA', priv.EdDSA, 'eddsa'), 'ok');
add('valid typ JWT', await joseSign('RS256', priv.RS256, 'rs256', { typ: 'JWT' }), 'ok');
// typ is a media type (RFC 7515 §4.1.9): case-insensitive, `application/` implied without a slash.
add('valid typ application/jwt', await joseSign('RS256', priv.RS256, 'rs256', { typ: 'application/jwt' }), 'ok');
add('valid typ application/at+jwt', await joseSign('RS256', priv.RS256, 'rs256', { typ: 'application/at+jwt' }), 'ok');
add('valid typ Application/AT+JWT', await joseSign('RS256', priv.RS256, 'rs256', { typ: 'Application/AT+JWT' }), 'ok');
add('typ text/jwt', raw('RS256', priv.RS256, { alg: 'RS256', kid: 'rs256', typ: 'text/jwt' }), 'typ');
add('valid, no typ', raw('RS256', priv.RS256, { alg: 'RS256', kid: 'rs256' }), 'ok');
add('valid, aud array', await joseSign('ES256', priv.ES256, 'es256', {}, claims({ aud: ['other', AUD] })), 'ok');
add('valid, float exp', raw('RS256', priv.RS256, { alg: 'RS256', kid: 'rs256' }, claims({ exp: NOW + 100.5 })), 'ok');
add('valid ES384 without kid (one P-384 key)', raw('ES384', es384.privateKey, { alg: 'ES384' }), 'ok');
add('valid EdDSA without kid (one Ed25519 key)', raw('EdDSA', priv.EdDSA, { alg: 'EdDSA' }), 'ok');
add('ES256 without kid (two P-256 keys)', raw('ES256', priv.ES256, { alg: 'ES256' }), 'ambiguous_key');

// alg none, in every casing.
for (const none of ['none', 'None', 'NONE', 'nOnE']) {
  // Without a signature the token fails the three-non-empty-segments rule before its header is read.
  add(`alg ${none}`, rawSign('none', null, j({ alg: none, kid: 'rs256' }), j(claims())), 'malformed_segments');
  add(`alg ${none} with a signature`, rawSign('none', null, j({ alg: none }), j(claims())) + 'c2ln', 'alg_none');
}
// HS256 with the RSA public key as the HMAC secret (the classic key-confusion attack).
const rsaPem = crypto.createPublicKey({ key: server.find((k) => k.alg === 'RS256'), format: 'jwk' }).export({ type: 'spki', format: 'pem' });
add('HS256 keyed with the RSA public PEM', raw('HS256', rsaPem, { alg: 'HS256', kid: 'rs256' }), 'alg_not_allowed');
add('HS256 keyed with the RSA public JWK', raw('HS256', j(publicOf(server.find((k) => k.alg === 'RS256'))), { alg: 'HS256', kid: 'rs256' }), 'alg_not_allowed');
add('HS256 keyed with the published oct key', raw('HS256', octSecret, { alg: 'HS256', kid: 'oct' }), 'alg_not_allowed');
// Keys carried in the token are never used, and by default their presence refuses it (RFC 8725 §3.10).
const attackerJwk = pub(attackerRsa.publicKey, { kid: 'attacker' });
add('embedded jwk, attacker kid', raw('RS256', attackerRsa.privateKey, { alg: 'RS256', kid: 'attacker', jwk: attackerJwk }), 'header_key');
add('embedded jwk, our kid', raw('RS256', attackerRsa.privateKey, { alg: 'RS256', kid: 'rs256', jwk: attackerJwk }), 'header_key');
add('jku to the attacker', raw('RS256', attackerRsa.privateKey, { alg: 'RS256', kid: 'rs256', jku: 'https://attacker.test/jwks' }), 'header_key');
add('x5u to the attacker', raw('RS256', attackerRsa.privateKey, { alg: 'RS256', kid: 'rs256', x5u: 'https://attacker.test/cert' }), 'header_key');
add('x5c from the attacker', raw('RS256', attackerRsa.privateKey, { alg: 'RS256', kid: 'rs256', x5c: ['MIIB'] }), 'header_key');
add('jku on a token our key signed', raw('RS256', priv.RS256, { alg: 'RS256', kid: 'rs256', jku: 'https://issuer.test/jwks' }), 'header_key');
add('jwk on a token our key signed', raw('ES256', priv.ES256, { alg: 'ES256', kid: 'es256', jwk: publicOf(server.find((k) => k.alg === 'ES256')) }), 'header_key');
// kid problems.
add('unknown kid', raw('RS256', priv.RS256, { alg: 'RS256', kid: 'nope' }), 'unknown_key');
add('huge kid', raw('RS256', priv.RS256, { alg: 'RS256', kid: 'k'.repeat(5000) }), 'invalid_kid');
add('numeric kid', raw('RS256', priv.RS256, { alg: 'RS256', kid: 7 }), 'invalid_kid');
add('null kid', raw('RS256', priv.RS256, { alg: 'RS256', kid: null }), 'invalid_kid');
// crit and friends.
add('crit [exp]', raw('RS256', priv.RS256, { alg: 'RS256', kid: 'rs256', crit: ['exp'], exp: NOW }), 'crit');
add('crit []', raw('RS256', priv.RS256, { alg: 'RS256', kid: 'rs256', crit: [] }), 'crit');
add('crit as a string', raw('RS256', priv.RS256, { alg: 'RS256', kid: 'rs256', crit: 'foo', foo: 1 }), 'crit');
add('crit [foo] understood by nobody', raw('RS256', priv.RS256, { alg: 'RS256', kid: 'rs256', crit: ['foo'], foo: 1 }), 'crit');
add('b64 false', rawSign('RS256', priv.RS256, j({ alg: 'RS256', kid: 'rs256', b64: false, crit: ['b64'] }), j(claims())), 'crit');
add('b64 false without crit', raw('RS256', priv.RS256, { alg: 'RS256', kid: 'rs256', b64: false }), 'unsupported_header');
add('zip', raw('RS256', priv.RS256, { alg: 'RS256', kid: 'rs256', zip: 'DEF' }), 'unsupported_header');
add('enc (a JWE header)', raw('RS256', priv.RS256, { alg: 'RS256', kid: 'rs256', enc: 'A256GCM' }), 'unsupported_header');
add('nested JWT (cty JWT)', raw('RS256', priv.RS256, { alg: 'RS256', kid: 'rs256', cty: 'JWT' }), 'unsupported_header');
// Structure.
const good = await joseSign('RS256', priv.RS256, 'rs256');
const [gh, gp, gs] = good.split('.');
add('JWE-shaped, five segments', `${gh}.${b64u('key')}.${b64u('iv')}.${gp}.${gs}`, 'malformed_segments');
add('two segments', `${gh}.${gp}`, 'malformed_segments');
add('four segments', `${gh}.${gp}.${gs}.${gs}`, 'malformed_segments');
add('empty signature', `${gh}.${gp}.`, 'malformed_segments');
add('padded signature', `${good}==`, 'malformed_base64');
add('standard base64 characters', `${gh}.${gp}.${gs.replace(/-/g, '+').replace(/_/g, '/')}${gs.includes('-') || gs.includes('_') ? '' : '+'}`, 'malformed_base64');
add('whitespace inside', `${gh}.${gp.slice(0, 10)} ${gp.slice(10)}.${gs}`, 'malformed_base64');
add('newline at the end', `${good}\n`, 'malformed_base64');
{
  // Non-canonical trailing bits: bump the last character within its group (same bytes, other text).
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = gs[gs.length - 1];
  const bumped = alphabet[alphabet.indexOf(last) + 1];
  add('non-canonical trailing bits', `${gh}.${gp}.${gs.slice(0, -1)}${bumped}`, 'malformed_base64');
}
add('too large', raw('RS256', priv.RS256, { alg: 'RS256', kid: 'rs256' }, claims({ pad: 'x'.repeat(17000) })), 'too_large');
add('header is an array', rawSign('RS256', priv.RS256, '["RS256"]', j(claims())), 'malformed_json');
add('payload is not JSON', rawSign('RS256', priv.RS256, j({ alg: 'RS256', kid: 'rs256' }), 'not json'), 'malformed_json');
add('duplicate alg', rawSign('RS256', priv.RS256, '{"alg":"RS256","kid":"rs256","alg":"none"}', j(claims())), 'duplicate_member');
add('duplicate exp', rawSign('RS256', priv.RS256, j({ alg: 'RS256', kid: 'rs256' }), j(claims()).replace('"exp":', `"exp":${NOW + 99999},"exp":`)), 'duplicate_member');
// Claims.
const rs = (extra) => raw('RS256', priv.RS256, { alg: 'RS256', kid: 'rs256' }, claims(extra));
add('exp as a string', rs({ exp: String(NOW + 3600) }), 'invalid_claim');
add('exp as a boolean', rs({ exp: true }), 'invalid_claim');
add('exp missing', rs({ exp: undefined }), 'missing_claim');
add('exp negative', rs({ exp: -1 }), 'invalid_numeric_date');
add('exp past the leeway', rs({ exp: NOW - 31 }), 'expired');
add('exp within the leeway', rs({ exp: NOW - 29 }), 'ok');
add('exp huge', rs({ exp: 1e300 }), 'invalid_numeric_date');
add('exp 2^53', rs({ exp: 2 ** 53 }), 'invalid_numeric_date');
add('exp 2^53 - 1', rs({ exp: 2 ** 53 - 1 }), 'ok');
add('nbf in the future', rs({ nbf: NOW + 600 }), 'not_yet_valid');
add('nbf huge', rs({ nbf: 1e300 }), 'invalid_numeric_date');
add('nbf as a string', rs({ nbf: String(NOW) }), 'invalid_claim');
add('iat in the future', rs({ iat: NOW + 600 }), 'issued_in_future');
add('iat as a string', rs({ iat: String(NOW) }), 'invalid_claim');
add('iat negative', rs({ iat: -5 }), 'invalid_numeric_date');
add('iat huge', rs({ iat: 1e300 }), 'invalid_numeric_date');
add('iss as an array', rs({ iss: [ISS] }), 'invalid_claim');
add('iss mismatch', rs({ iss: 'https://evil.test' }), 'issuer_mismatch');
add('iss with a trailing slash', rs({ iss: ISS + '/' }), 'issuer_mismatch');
add('iss missing', rs({ iss: undefined }), 'missing_claim');
add('aud empty array', rs({ aud: [] }), 'invalid_claim');
add('aud a number', rs({ aud: 7 }), 'invalid_claim');
add('aud mismatch', rs({ aud: 'https://other.test' }), 'audience_mismatch');
add('cnf present', rs({ cnf: { jkt: 'abc' } }), 'sender_constrained');
for (const typ of ['dpop+jwt', 'logout+jwt', 'secevent+jwt']) {
  add(`typ ${typ}`, raw('RS256', priv.RS256, { alg: 'RS256', kid: 'rs256', typ }), 'typ');
}
// Signatures.
add('ES256 signature DER-encoded', raw('ES256', priv.ES256, { alg: 'ES256', kid: 'es256' }, claims(), { der: true }), 'bad_signature');
{
  const input = `${enc({ alg: 'ES256', kid: 'es256' })}.${enc(claims())}`;
  add('ES256 r = s = 0 (CVE-2022-21449)', `${input}.${b64u(Buffer.alloc(64))}`, 'bad_signature');
}
add('ES256 token naming the P-384 key', raw('ES256', priv.ES256, { alg: 'ES256', kid: 'es384' }), 'alg_key_mismatch');
add('ES256 token naming an RSA key', raw('ES256', priv.ES256, { alg: 'ES256', kid: 'rs256' }), 'alg_key_mismatch');
add('RS256 header on the PS256 key', raw('RS256', priv.PS256, { alg: 'RS256', kid: 'ps256' }), 'alg_key_mismatch');
add('signed by the RSA-1024 decoy', raw('RS256', rsa1024.privateKey, { alg: 'RS256', kid: 'rsa1024' }), 'unknown_key');
add('signed by the use:enc decoy', raw('RS256', encKey.privateKey, { alg: 'RS256', kid: 'enc-key' }), 'unknown_key');
add('signed by the key published with its private half', raw('RS256', attackerRsa.privateKey, { alg: 'RS256', kid: 'leaky' }), 'unknown_key');
{
  const flip = (s, i) => {
    const buf = Buffer.from(s, 'base64url');
    buf[i] ^= 1;
    return b64u(buf);
  };
  add('flipped signature bit', `${gh}.${gp}.${flip(gs, 10)}`, 'bad_signature');
  // Flip a bit inside the `sub` value so that the payload stays valid JSON.
  const at = Buffer.from(gp, 'base64url').indexOf('user-1');
  add('flipped payload bit', `${gh}.${flip(gp, at)}.${gs}`, 'bad_signature');
}
out('tokens.json', { now: NOW, issuer: ISS, audience: AUD, tokens });

// Rotation tokens.
out('rotation-tokens.json', {
  a: raw('RS256', rotA.privateKey, { alg: 'RS256', kid: 'rot-a' }),
  b: raw('RS256', rotB.privateKey, { alg: 'RS256', kid: 'rot-b' }),
});
// One kid naming keys of different types (an issuer rotating from EC to OKP keeps the kid): the key is
// chosen by kid and alg together; two compatible keys under one kid are ambiguous.
{
  const ecRot = gen('ec', { namedCurve: 'P-256' });
  const okpRot = gen('ed25519');
  const twinA = gen('ec', { namedCurve: 'P-256' });
  const twinB = gen('ec', { namedCurve: 'P-256' });
  out('jwks-shared-kid.json', {
    keys: [
      pub(ecRot.publicKey, { kid: 'rotating', alg: 'ES256', use: 'sig' }),
      pub(okpRot.publicKey, { kid: 'rotating', alg: 'EdDSA', use: 'sig' }),
      pub(twinA.publicKey, { kid: 'twin', use: 'sig' }),
      pub(twinB.publicKey, { kid: 'twin', use: 'sig' }),
    ],
  });
  const shared = [];
  const addShared = (name, token, expect) => shared.push({ name, token, expect });
  addShared('ES256 under the shared kid', await joseSign('ES256', ecRot.privateKey, 'rotating'), 'ok');
  addShared('EdDSA under the shared kid', await joseSign('EdDSA', okpRot.privateKey, 'rotating'), 'ok');
  addShared('ES256 under the shared kid, signed by the wrong EC key', raw('ES256', twinA.privateKey, { alg: 'ES256', kid: 'rotating' }), 'bad_signature');
  addShared('RS256 under the shared kid', raw('RS256', priv.RS256, { alg: 'RS256', kid: 'rotating' }), 'alg_key_mismatch');
  addShared('ES256 under a kid two P-256 keys share', raw('ES256', twinA.privateKey, { alg: 'ES256', kid: 'twin' }), 'ambiguous_key');
  addShared('EdDSA without kid (one Ed25519 key)', raw('EdDSA', okpRot.privateKey, { alg: 'EdDSA' }), 'ok');
  addShared('ES256 without kid (three P-256 keys)', raw('ES256', ecRot.privateKey, { alg: 'ES256' }), 'ambiguous_key');
  out('shared-kid-tokens.json', { now: NOW, issuer: ISS, audience: AUD, tokens: shared });
}
console.log(`${tokens.length} tokens`);
