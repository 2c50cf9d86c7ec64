// Full API keys seen at creation, kept in memory only for this page session (never stored):
// the client setup page can fill them in right after creation.
const fresh = new Map();
export const rememberSecret = (keyId, secret) => fresh.set(keyId, secret);
export const secretFor = (keyId) => fresh.get(keyId) || '';
