/**
 * Text from outside made storable: a lone surrogate (half of a UTF-16 pair,
 * which UTF-8 cannot hold) becomes U+FFFD, as a UTF-8 encoder writes it.
 * Kept as is, SQLite stores it as invalid UTF-8 and PostgreSQL refuses it
 * inside JSON. (`String.prototype.toWellFormed` does the same, but not in
 * every browser the client is built for, and this module is shared.)
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\ufffd');
}
