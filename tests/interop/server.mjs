// A real, independently written OAuth 2.0 authorization server (oidc-provider) for the interop tests.
// Options: accessTokenTTL (seconds), rotateRefreshToken (bool), dpopNonce (bool).
//
// Started by the Rust harness (tests/support/peer.rs) as `node server.mjs` with its options in the
// OIDC_PEER_OPTIONS environment variable (JSON). It listens on 127.0.0.1 with an OS-chosen port and
// prints `listening <issuer>` on one stdout line once it accepts connections. It exits when stdin closes,
// so it never outlives the test process that started it.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const options = JSON.parse(process.env.OIDC_PEER_OPTIONS || '{}');
const accessTokenTTL = options.accessTokenTTL ?? 300;
const keys = (name) => JSON.parse(readFileSync(new URL(`./keys/${name}`, import.meta.url), 'utf8'));
const serverJwks = keys('server-jwks.json');
const clientPublicKeys = ['rs256', 'es256', 'ps256', 'eddsa'].map((alg) => keys(`client-${alg}.public.jwk.json`));

// Resource indicators choose the access token's format and signing algorithm:
// https://rs.test/<alg> gives a JWT signed with that algorithm, https://rs.test/opaque an opaque token.
export const RESOURCE_ALGS = { rs256: 'RS256', ps256: 'PS256', es256: 'ES256', eddsa: 'EdDSA' };
const DEFAULT_RESOURCE = 'https://rs.test/rs256';
const REDIRECT_URI = 'http://127.0.0.1/callback';

const cc = { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] };
const clients = [
  { client_id: 'basic-client', client_secret: 'basic-secret', token_endpoint_auth_method: 'client_secret_basic', ...cc, scope: 'read write admin' },
  { client_id: 'post-client', client_secret: 'post-secret', token_endpoint_auth_method: 'client_secret_post', ...cc, scope: 'read write' },
  { client_id: 'special-client', client_secret: 'p@ss:w/rd+%&= x', token_endpoint_auth_method: 'client_secret_basic', ...cc, scope: 'read' },
  { client_id: 'secret-jwt-client', client_secret: 'a-client-secret-long-enough-for-hs256-0123456789', token_endpoint_auth_method: 'client_secret_jwt', ...cc, scope: 'read' },
  { client_id: 'private-key-jwt-client', token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: clientPublicKeys }, ...cc, scope: 'read' },
  {
    client_id: 'code-client', client_secret: 'code-secret', token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'], response_types: ['code'],
    redirect_uris: [REDIRECT_URI], scope: 'openid offline_access read write',
  },
  {
    client_id: 'public-client', token_endpoint_auth_method: 'none', application_type: 'native',
    grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
    redirect_uris: [REDIRECT_URI], scope: 'openid offline_access read write',
  },
];

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients,
    jwks: serverJwks,
    routes: {
      authorization: '/oauth/authorize',
      token: '/oauth/token',
      introspection: '/oauth/introspect',
      revocation: '/oauth/revoke',
      registration: '/oauth/register',
      userinfo: '/oauth/userinfo',
      end_session: '/oauth/session/end',
      jwks: '/oauth/jwks',
    },
    scopes: ['openid', 'offline_access', 'read', 'write', 'admin'],
    clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt'],
    enabledJWA: {
      clientAuthSigningAlgValues: ['HS256', 'RS256', 'PS256', 'ES256', 'EdDSA'],
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // Any authenticated client may introspect (the resource server is a client of its own).
      introspection: { enabled: true, allowedPolicy: () => true },
      revocation: { enabled: true },
      // DPoP is on by default; `dpopNonce` makes the server demand its (rolling, HMAC) nonces.
      dPoP: options.dpopNonce
        ? { enabled: true, nonceSecret: Buffer.alloc(32, 7), requireNonce: () => true }
        : { enabled: true },
      registration: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => DEFAULT_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => {
          const name = resource.replace(/^https:\/\/rs\.test\//, '');
          if (name === 'opaque') return { scope: 'read write admin', accessTokenTTL, accessTokenFormat: 'opaque' };
          const alg = RESOURCE_ALGS[name];
          if (!alg) throw new Error(`unknown resource ${resource}`);
          return { scope: 'read write admin', audience: resource, accessTokenTTL, accessTokenFormat: 'jwt', jwt: { sign: { alg } } };
        },
      },
    },
    pkce: { required: (ctx, client) => client.tokenEndpointAuthMethod === 'none' },
    rotateRefreshToken: options.rotateRefreshToken ?? false,
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    ttl: { AccessToken: accessTokenTTL, ClientCredentials: accessTokenTTL },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  });

  const callback = provider.callback();
  // Request counts per path, for tests that prove how often the library hit the server.
  const counts = {};
  server.on('request', async (req, res) => {
    const path = req.url.split('?')[0];
    if (path === '/__test/counts') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(counts));
      return;
    }
    counts[path] = (counts[path] ?? 0) + 1;
    // Scripted login and consent: a fixed test user approves every requested scope, so following
    // the redirects from /oauth/authorize ends at the client's redirect URI with a code.
    if (req.url.startsWith('/interaction/')) {
      try {
        const details = await provider.interactionDetails(req, res);
        let result;
        if (details.prompt.name === 'login') {
          result = { login: { accountId: 'test-user' } };
        } else {
          const grant = details.grantId
            ? await provider.Grant.find(details.grantId)
            : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
          const missing = details.prompt.details;
          if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
          if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
          for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
            grant.addResourceScope(indicator, scopes.join(' '));
          }
          result = { consent: { grantId: await grant.save() } };
        }
        await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: true });
      } catch (err) {
        res.statusCode = 500;
        res.end(String(err));
      }
      return;
    }
    callback(req, res);
  });
  process.stdout.write(`listening ${issuer}\n`);
});

// The harness holds our stdin open; when it closes (the test process ended or dropped its guard), stop.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
