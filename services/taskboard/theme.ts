import { readFile } from 'node:fs/promises';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * The board's theme (seed 003's /api/theme): a name and its CSS colours. Unlike the Rust
 * original, which always answered "aurora", the choice is kept in $FLOW_HOME/theme.json.
 */
const THEMES = {
  aurora: { primary: '#7c3aed', secondary: '#06b6d4', background: '#0b1020', foreground: '#e5e7eb' },
  default: { primary: '#3b82f6', secondary: '#64748b', background: '#111827', foreground: '#f9fafb' },
  claude: { primary: '#d97706', secondary: '#a16207', background: '#1c1917', foreground: '#fafaf9' },
  twitter: { primary: '#1d9bf0', secondary: '#71767b', background: '#000000', foreground: '#e7e9ea' },
  'neo-brutalism': { primary: '#facc15', secondary: '#f43f5e', background: '#111111', foreground: '#ffffff' },
  'retro-arcade': { primary: '#22c55e', secondary: '#e11d48', background: '#0a0a0a', foreground: '#d1fae5' },
  business: { primary: '#2563eb', secondary: '#475569', background: '#0f172a', foreground: '#e2e8f0' },
} as const;

export const ThemeNameSchema = z.enum(Object.keys(THEMES) as [keyof typeof THEMES, ...(keyof typeof THEMES)[]]);
export type ThemeName = z.infer<typeof ThemeNameSchema>;
export const SetThemeBodySchema = z.object({ theme: ThemeNameSchema }).strict();
export const ThemeSchema = z.object({
  theme: ThemeNameSchema,
  colors: z.object({ primary: z.string(), secondary: z.string(), background: z.string(), foreground: z.string() }),
});
export type Theme = z.infer<typeof ThemeSchema>;

const DEFAULT_THEME: ThemeName = 'aurora';

export function themeFile(home: string): string {
  return join(home, 'theme.json');
}

export function themeOf(name: ThemeName): Theme {
  return { theme: name, colors: { ...THEMES[name] } };
}

export async function readTheme(home: string): Promise<Theme> {
  try {
    const parsed = z.object({ theme: ThemeNameSchema }).safeParse(JSON.parse(await readFile(themeFile(home), 'utf8')));
    return themeOf(parsed.success ? parsed.data.theme : DEFAULT_THEME);
  } catch {
    return themeOf(DEFAULT_THEME);
  }
}

export function writeTheme(home: string, name: ThemeName): Theme {
  mkdirSync(home, { recursive: true });
  const tmp = `${themeFile(home)}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ theme: name })}\n`);
  renameSync(tmp, themeFile(home));
  return themeOf(name);
}
