// A real OpenID Connect provider for Sealwright's tests: panva/oidc-provider (OpenID Certified),
// configured from a JSON file written by tests/support/oidc.py.
//
//   node provider.mjs CONFIG.json
//
// Listens on 127.0.0.1 (port from the config, 0 = any free one), then prints one JSON line
// {"issuer": "..."} on stdout. Exits when stdin closes or on SIGTERM, so a test process that
// dies never leaves a provider behind. Keys (RSA and P-256) and cookie secrets are generated
// at every start; nothing secret is read from or written to disk.
//
// Logins go through the library's own development interactions (a login form accepting any
// password for a configured account id, then a consent form): tests drive them over HTTP.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = config.accounts ?? {};

function signingKey(type, options, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, alg, use: 'sig', kid: randomBytes(8).toString('hex') };
}

const keys = [
  signingKey('rsa', { modulusLength: 2048 }, 'RS256'),
  signingKey('ec', { namedCurve: 'P-256' }, 'ES256'),
];

const clients = (config.clients ?? []).map((c) => ({
  client_id: c.client_id,
  client_secret: c.client_secret,
  redirect_uris: c.redirect_uris,
  grant_types: ['authorization_code'],
  response_types: ['code'],
  token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
  id_token_signed_response_alg: c.id_token_signed_response_alg ?? 'RS256',
}));

const server = createServer();
server.listen(config.port ?? 0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients,
    jwks: { keys },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    async findAccount(ctx, id) {
      if (!Object.hasOwn(accounts, id)) return undefined;
      return { accountId: id, async claims() { return { sub: id, ...accounts[id] }; } };
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'family_name', 'given_name', 'locale'],
    },
    // Most identity providers put the requested claims in the ID token itself; a test can
    // ask for the stricter Core behaviour (claims only at the userinfo endpoint).
    conformIdTokenClaims: Boolean(config.conform_id_token_claims),
    pkce: { methods: ['S256'], required: () => true },
    ttl: {
      IdToken: config.id_token_ttl ?? 600,
      AccessToken: 600,
      AuthorizationCode: 60,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    features: { devInteractions: { enabled: true } },
  });
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
