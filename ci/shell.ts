/** Quotes one argument for a POSIX shell: everything inside single quotes is literal. */
export function quote(arg: string | number): string {
  const s = String(arg);
  if (s.includes('\0')) throw new Error('a shell argument cannot contain a NUL byte');
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Template tag for remote command lines: every interpolated value is quoted, the literal parts are ours. */
export function sh(parts: TemplateStringsArray, ...values: (string | number)[]): string {
  return parts.reduce((line, part, i) => line + part + (i < values.length ? quote(values[i]!) : ''), '');
}
