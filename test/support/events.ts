import { v7 as uuidv7 } from 'uuid';
import type { NewEvent } from '../../services/store/envelope.js';

export function newEvent(type: string, data: Record<string, unknown> = {}, at = new Date().toISOString()): NewEvent {
  return { id: uuidv7(), type, data, at };
}
