/**
 * Commander options made from the settings table (services/common/config/settings.ts):
 * a command that runs a service, or calls the Sentinel, takes exactly the flags
 * of the settings that service reads, explained by the table's own line. A new
 * setting with a `flag` therefore shows up in the right commands' help, and is
 * accepted there, without touching the CLI.
 *
 * No option gets a commander default: an absent flag must stay absent, so that
 * the CASPARIAN_* variable, then the config file, then the setting's default
 * decide (config/resolve.ts).
 */
import { Option } from 'commander';
import { SETTINGS, type Service, type Setting, type SettingKey } from '../../services/common/config';

/** Help heading of the options made here, apart from a command's own. */
export const SETTINGS_GROUP = 'Settings (flag, else its CASPARIAN_* variable, else --config FILE; docs/operations.md#configuration):';

/** --config is not a setting (it names where settings come from), but every command that reads settings takes it. */
export function configOption(): Option {
  return new Option('--config <FILE>', 'a YAML or JSON file of settings [CASPARIAN_CONFIG]; flags win over variables, variables over the file').helpGroup(SETTINGS_GROUP);
}

/** Markdown of the table's descriptions, as plain terminal text. */
const plain = (s: string): string => s.replace(/`/g, '');

/** The value's name in help, from the setting's kind: `--port <N>`, `--env-mode <auto|strict>`. */
function placeholder(flag: string, s: Setting<unknown>): string {
  const expect = s.kind.expect;
  if (expect.startsWith('an integer')) return 'N';
  if (expect.startsWith('one of ')) return expect.slice('one of '.length).split(', ').join('|');
  if (expect.startsWith('a list of paths')) return 'PATH[:PATH…]';
  if (expect.startsWith('a comma-separated list of names')) return 'A,B';
  if (expect.startsWith('a comma-separated list of')) return 'HOST:PORT[,HOST:PORT…]';
  if (expect === 'a path') return /(dir|root|home)$/.test(flag) ? 'DIR' : 'FILE';
  return (flag.split('-').pop() ?? 'value').toUpperCase();
}

/** Whether a setting is a switch: its kind takes `true` (a bare flag). */
const isSwitch = (s: Setting<unknown>): boolean => s.kind.schema.safeParse(true).success;

/** The option of one setting (it must have a flag). */
export function settingOption(key: SettingKey): Option {
  const s = SETTINGS[key] as Setting<unknown>;
  if (!s.flag) throw new Error(`setting ${key} has no flag`);
  const env = s.env ? ` [${s.env}]` : '';
  const o = isSwitch(s) ? new Option(`--${s.flag}`) : new Option(`--${s.flag} <${placeholder(s.flag, s)}>`);
  const shownDefault = s.defaultDoc ? ` Default: ${plain(s.defaultDoc)}.` : '';
  o.description = plain(s.description) + shownDefault + env;
  return o.helpGroup(SETTINGS_GROUP);
}

/**
 * The options of every setting with a flag that one of `services` reads,
 * in the table's order, except those named in `except`.
 */
export function settingOptions(services: readonly Service[], except: readonly SettingKey[] = []): Option[] {
  const keys = (Object.keys(SETTINGS) as SettingKey[]).filter((k) => {
    const s = SETTINGS[k] as Setting<unknown>;
    return s.flag !== undefined && !except.includes(k) && s.services.some((x) => services.includes(x));
  });
  return keys.map(settingOption);
}

/** The setting a flag belongs to, if any. */
export function settingOfFlag(flag: string): SettingKey | undefined {
  return (Object.keys(SETTINGS) as SettingKey[]).find((k) => (SETTINGS[k] as Setting<unknown>).flag === flag);
}
