// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'gateway/web/vendor/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', Buffer: 'readonly', URL: 'readonly', fetch: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly' },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  {
    // The dashboard: plain ES modules run by the browser, served as they are (no build step).
    files: ['gateway/web/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: { window: 'readonly', document: 'readonly', location: 'readonly', navigator: 'readonly', history: 'readonly', EventSource: 'readonly', Node: 'readonly', URLSearchParams: 'readonly', requestAnimationFrame: 'readonly', addEventListener: 'readonly', removeEventListener: 'readonly', alert: 'readonly', confirm: 'readonly', prompt: 'readonly', TextDecoder: 'readonly', CSS: 'readonly', Notification: 'readonly', HTMLElement: 'readonly', focus: 'readonly' },
    },
  },
  {
    // Machines are pure deciders: no clock, no randomness, no I/O modules.
    files: ['actors/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', { name: 'Date', message: 'Time enters a machine as event data.' }, { name: 'setTimeout', message: 'Timers are durable and owned by the host.' }, { name: 'setInterval', message: 'Timers are durable and owned by the host.' }, { name: 'process', message: 'Machines do no I/O.' }, { name: 'fetch', message: 'Machines do no I/O.' }],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'Ids and randomness enter a machine as event data.' }],
      'no-restricted-imports': ['error', { patterns: ['node:*', 'fs', 'child_process', 'net', 'http', '../services/*', '../gateway/*', '../infra/*'] }],
    },
  },
);
