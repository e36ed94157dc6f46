import { z } from 'zod';

/** A command of a kind outside actors/index.ts's list (a host built with its own kinds, as tests do). */
export type KindCommand = { type: string } & Record<string, unknown>;

export const CommandErrorCode = z.enum(['invalid', 'not_found', 'conflict', 'invalid_state', 'unavailable', 'timeout', 'internal']);
export type CommandErrorCode = z.infer<typeof CommandErrorCode>;

export const CommandResultSchema = z.discriminatedUnion('ok', [
  z.object({
    ok: z.literal(true),
    streamId: z.string(),
    version: z.number().int(),
    status: z.string(),
    position: z.number().int(),
  }),
  z.object({
    ok: z.literal(false),
    error: z.object({ code: CommandErrorCode, message: z.string() }),
  }),
]);
export type CommandResult = z.infer<typeof CommandResultSchema>;

/** Who asked, and (for commands that travel through a queue) the command's own id, so a retried job is applied once. */
export const CommandMetaSchema = z
  .object({
    by: z.string().max(200).optional(),
    correlationId: z.string().max(200).optional(),
    causationId: z.string().max(200).optional(),
  })
  .strict();
export type CommandMeta = z.infer<typeof CommandMetaSchema>;

export function commandError(code: CommandErrorCode, message: string): CommandResult {
  return { ok: false, error: { code, message } };
}
