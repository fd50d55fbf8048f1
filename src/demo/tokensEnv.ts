/**
 * `.demo/tokens.env`: one `export NAME='value'` line per token, so that
 * `source .demo/tokens.env` sets them for the shell and every command it runs.
 */
export function tokensEnv(tokens: Record<string, string>): string {
  return Object.entries(tokens)
    .map(([name, value]) => {
      if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new Error(`not a shell variable name: ${name}`);
      // JWTs are base64url and dots; quote anyway, escaping any single quote
      return `export ${name}='${value.replace(/'/g, `'\\''`)}'\n`;
    })
    .join('');
}
