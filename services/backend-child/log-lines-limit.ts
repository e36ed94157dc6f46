/**
 * How many kept lines of a backend one request may ask for (`?limit=`), and so what `f logs -n`
 * and `f backend logs -n` take. 0 asks for none: with `?follow=1`, only lines printed from now.
 * A module of its own so the CLI checks its option without loading the gateway or zod.
 */
export const BACKEND_LOG_LINES_MAX = 5000;
