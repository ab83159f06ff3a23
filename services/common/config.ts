/**
 * The configuration module: every setting is declared once in
 * config/settings.ts and read from flags, CASPARIAN_* variables and an
 * optional config file (config/file.ts), in that order, then compiled into
 * frozen typed objects (config/compile.ts). Nothing else reads process.env.
 */
export { ConfigError } from './config-error';
export * from './config/types';
export { compileLogger, compileSentinelConfig, compileToken, compileWorkerConfig, clientTimeoutMs, defaultHome, sentinelAddresses } from './config/compile';
export { SETTINGS, type Key as SettingKey, type Service, type Setting } from './config/settings';
export { configFileName } from './config/resolve';
export { effectiveConfig, redactSetting, REDACTED, type EffectiveSetting } from './config/effective';
