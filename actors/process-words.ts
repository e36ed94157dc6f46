import { z } from 'zod';

/**
 * What a client may ask Flow to run: execve takes C strings, so a NUL byte would cut a word short
 * (Node refuses to spawn it at all), and "=" ends an environment variable's name. Commands are
 * checked against these before they become events; events already in a log keep the looser
 * schemas they were written with.
 */
const noNul = (s: string) => !s.includes('\0');

export const CommandWordSchema = z
  .string()
  .min(1, 'command words must not be empty')
  .refine(noNul, 'a command word cannot contain a NUL byte (\\0): no process can be given it');

export const commandWordsSchema = (empty: string) => z.array(CommandWordSchema).min(1, empty);

// The name is checked in a refinement: zod reports a record key's own issue only as "Invalid key in record".
export const EnvInputSchema = z
  .record(z.string(), z.string().refine(noNul, 'an environment variable value cannot contain a NUL byte (\\0)'))
  .superRefine((env, ctx) => {
    for (const name of Object.keys(env)) {
      if (!/^[^=\0]+$/.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'an environment variable name is not empty and holds no "=" or NUL byte' });
    }
  });
