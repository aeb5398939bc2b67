import { readFileSync } from 'node:fs';

/** This mitschnitt's version (package.json, also in the Debian package): `mitschnitt --version`, and what deploy pins hosts to. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
