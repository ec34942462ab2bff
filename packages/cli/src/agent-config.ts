import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { CommanderError, Option } from "commander";
import { parse as parseYaml, YAMLParseError } from "yaml";
import type { CliIo } from "./io.js";
import { DEFAULT_AGENT_CONFIG, writeLine } from "./io.js";
import { collectList, collectRepeated } from "./list-option.js";

/**
 * `nsguard agent` settings from the environment and configuration files, as Tetragon's viper
 * setup does: every flag of the command is also a setting, with the flag's long name as its key
 * (`export-filename`), `NSGUARD_EXPORT_FILENAME` as its environment variable, and the flag's own
 * parser and choices validating the value whatever its source. Nothing here lists flags: the
 * command's options are read when it runs, so a flag added with a plain `.option()` is a setting.
 *
 * Precedence (viper's flag > env > config, with Tetragon's --config-dir over its tetragon.yaml):
 *   flag > environment > configuration directory > configuration file > default.
 * A setting comes whole from the first source that has it: a list flag given on the command
 * line replaces, not extends, the same setting from a file.
 */

const ENV_PREFIX = "NSGUARD_";

/** Options that choose where settings come from, or print instead of running: not settings themselves. */
const CONFIG_FILE = "config-file";
const CONFIG_DIR = "config-dir";
const META_OPTIONS = new Set([CONFIG_FILE, CONFIG_DIR, "print-config", "generate-docs", "help"]);

/** Where a setting's value came from, as the error messages name it. */
type Layer = {
  /** e.g. `config file /etc/nsguard/nsguard.yaml`, `environment variable NSGUARD_X`. */
  describe(key: string): string;
  source: "env" | "config";
  values: Map<string, unknown>;
};

/** A setting value that its flag's parser, or the config syntax, refuses; one line naming key and source. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** The option's config key: its long flag without the dashes. */
function keyOf(option: Option): string | undefined {
  return option.long?.replace(/^--/, "");
}

function envVarOf(key: string): string {
  return ENV_PREFIX + key.toUpperCase().replace(/-/g, "_");
}

/** The options that are settings (everything but the meta options), by key. */
function settingOptions(command: Command): Map<string, Option> {
  const out = new Map<string, Option>();
  for (const option of command.options) {
    const key = keyOf(option);
    if (key !== undefined && !META_OPTIONS.has(key)) out.set(key, option);
  }
  return out;
}

/** The configuration locations used when none is named (DEFAULT_AGENT_CONFIG; tests use scratch paths). */
export interface ConfigDefaults {
  file: string;
  dir: string;
}

/**
 * Adds --config-file, --config-dir and --generate-docs to `command`, and before its action
 * fills every setting not given as a flag from the environment and configuration files
 * (rereadSetting reads one again later).
 */
export function addConfigSources(command: Command, io: CliIo, defaults: ConfigDefaults): void {
  command
    .option(
      `--${CONFIG_FILE} <file>`,
      `YAML file of settings, keys as the flag names ("" disables; default: ${DEFAULT_AGENT_CONFIG.file} if it exists)`,
    )
    .option(
      `--${CONFIG_DIR} <dir>`,
      `directory of settings, one file per setting named as its flag, e.g. a ConfigMap mount ("" disables; default: ${DEFAULT_AGENT_CONFIG.dir} if it exists)`,
    )
    .addOption(
      new Option("--generate-docs", "print the Markdown table of agent settings and exit").hideHelp(),
    )
    .hook("preAction", async (cmd) => {
      if (cmd.getOptionValue("generateDocs") === true) {
        await writeLine(io.stdout, settingsTable(cmd));
        // Stops before the action, as --help does; main() returns the exit code.
        throw new CommanderError(0, "nsguard.generateDocs", "");
      }
      // Loaded here, not at the top: the client commands share this module and need no policy code.
      const { closestMatch } = await import("@nsguard/policy");
      const sources = new ConfigSources(cmd, io.env, defaults, closestMatch);
      for (const warning of sources.warnings)
        await writeLine(io.stderr, `nsguard agent: warning: ${warning}`);
      sources.apply();
      configSourcesOf.set(cmd, sources);
    });
}

const configSourcesOf = new WeakMap<Command, ConfigSources>();

/**
 * The current value of one setting, re-read from the configuration files (the environment and
 * flags cannot change while the agent runs, so a setting from either keeps its value).
 */
export function rereadSetting(command: Command, key: string): unknown {
  const sources = configSourcesOf.get(command);
  if (sources === undefined) throw new Error("rereadSetting: the command has not run");
  return sources.reread(key);
}

class ConfigSources {
  readonly warnings: string[] = [];
  private readonly settings: Map<string, Option>;
  private readonly cliKeys = new Set<string>();
  private readonly envLayer: Layer;
  private readonly filePath: string | undefined;
  private readonly dirPath: string | undefined;

  constructor(
    private readonly command: Command,
    env: Readonly<Record<string, string | undefined>>,
    defaults: ConfigDefaults,
    /** The setting a misspelt name most likely meant (the policy loader's did-you-mean). */
    private readonly closestMatch: (word: string, candidates: readonly string[]) => string | undefined,
  ) {
    this.settings = settingOptions(command);
    for (const [key, option] of this.settings) {
      if (command.getOptionValueSource(option.attributeName()) === "cli") this.cliKeys.add(key);
    }
    this.envLayer = this.readEnv(env);
    this.filePath = this.location(CONFIG_FILE, env, defaults.file);
    this.dirPath = this.location(CONFIG_DIR, env, defaults.dir);
  }

  /** Sets every setting that has no flag from the first source that has it. */
  apply(): void {
    const layers = this.layers();
    for (const [key, option] of this.settings) {
      if (this.cliKeys.has(key)) continue;
      const found = this.resolve(key, option, layers);
      if (found !== undefined)
        this.command.setOptionValueWithSource(option.attributeName(), found.value, found.source);
    }
  }

  reread(key: string): unknown {
    const option = this.settings.get(key);
    if (option === undefined) throw new Error(`no setting ${JSON.stringify(key)}`);
    if (this.cliKeys.has(key)) return this.command.getOptionValue(option.attributeName());
    const found = this.resolve(key, option, this.layers());
    return found === undefined ? option.defaultValue : found.value;
  }

  /** The layers in precedence order, the files read now. */
  private layers(): Layer[] {
    const layers = [this.envLayer];
    if (this.dirPath !== undefined) layers.push(this.readDir(this.dirPath));
    if (this.filePath !== undefined) layers.push(this.readFile(this.filePath));
    return layers;
  }

  private resolve(
    key: string,
    option: Option,
    layers: Layer[],
  ): { value: unknown; source: "env" | "config" } | undefined {
    for (const layer of layers) {
      if (!layer.values.has(key)) continue;
      return {
        value: parseSetting(option, layer.values.get(key), layer.describe(key)),
        source: layer.source,
      };
    }
    return undefined;
  }

  /**
   * --config-file/--config-dir: the flag, else its environment variable, else the default
   * location when it exists. "" turns the source off; a named location must exist.
   */
  private location(
    key: string,
    env: Readonly<Record<string, string | undefined>>,
    fallback: string,
  ): string | undefined {
    const attr = key === CONFIG_FILE ? "configFile" : "configDir";
    const flag = this.command.getOptionValue(attr) as string | undefined;
    const named = flag ?? env[envVarOf(key)];
    if (named === "") return undefined;
    if (named !== undefined) return named;
    try {
      statSync(fallback);
      return fallback;
    } catch {
      return undefined;
    }
  }

  private readEnv(env: Readonly<Record<string, string | undefined>>): Layer {
    const byVar = new Map<string, string>();
    for (const key of this.settings.keys()) byVar.set(envVarOf(key), key);
    const values = new Map<string, unknown>();
    const metaVars = new Set([envVarOf(CONFIG_FILE), envVarOf(CONFIG_DIR)]);
    for (const [name, value] of Object.entries(env)) {
      if (!name.startsWith(ENV_PREFIX) || value === undefined || metaVars.has(name)) continue;
      const key = byVar.get(name);
      if (key !== undefined) {
        values.set(key, value);
        continue;
      }
      // Tetragon ignores unknown TETRAGON_* variables, and NSGUARD_* also holds the client
      // commands' NSGUARD_SERVER_ADDRESS and build settings: only a likely typo is worth a word.
      const meant = this.closestMatch(name, [...byVar.keys()]);
      if (meant !== undefined)
        this.warnings.push(`environment variable ${name} is not a setting (did you mean ${meant}?)`);
    }
    return { source: "env", values, describe: (key) => `environment variable ${envVarOf(key)}` };
  }

  private readFile(path: string): Layer {
    const where = `config file ${path}`;
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw new ConfigError(`${where}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (err) {
      const message = err instanceof YAMLParseError ? err.message : String(err);
      throw new ConfigError(`${where}: ${message.split("\n")[0]}`);
    }
    // An empty file (or only comments) sets nothing.
    doc ??= {};
    if (typeof doc !== "object" || doc === null || Array.isArray(doc))
      throw new ConfigError(`${where}: must be a mapping of setting: value`);
    const values = new Map<string, unknown>();
    for (const [key, value] of Object.entries(doc)) {
      this.checkKey(key, where);
      values.set(key, value);
    }
    return { source: "config", values, describe: (key) => `${where}: ${key}` };
  }

  /**
   * Tetragon's drop-in layout: one regular file per setting, its content the value (surrounding
   * whitespace dropped, so `echo value > dir/key` works). Names starting with "." are skipped:
   * a Kubernetes ConfigMap mount keeps its data under `..data` and `..<timestamp>`.
   */
  private readDir(path: string): Layer {
    const where = `config dir ${path}`;
    let names: string[];
    try {
      names = readdirSync(path).sort();
    } catch (err) {
      throw new ConfigError(`${where}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const values = new Map<string, unknown>();
    for (const name of names) {
      if (name.startsWith(".")) continue;
      const file = join(path, name);
      let text: string;
      try {
        if (!statSync(file).isFile()) continue;
        text = readFileSync(file, "utf8");
      } catch (err) {
        throw new ConfigError(
          `${where}: ${name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        );
      }
      this.checkKey(name, where);
      values.set(name, text.trim());
    }
    return { source: "config", values, describe: (key) => `config dir ${path}: ${key}` };
  }

  private checkKey(key: string, where: string): void {
    if (this.settings.has(key)) return;
    if (key === CONFIG_FILE || key === CONFIG_DIR)
      throw new ConfigError(`${where}: "${key}" can only be given as a flag or environment variable`);
    const meant = this.closestMatch(key, [...this.settings.keys()]);
    throw new ConfigError(
      `${where}: unknown key ${JSON.stringify(key)}${meant !== undefined ? ` (did you mean ${JSON.stringify(meant)}?)` : ""}`,
    );
  }
}

/** A list-valued flag: each occurrence adds to the value (list-option.ts's parsers, or `<v...>`). */
function isRepeatable(option: Option): boolean {
  return option.parseArg === collectRepeated || option.parseArg === collectList || option.variadic;
}

/**
 * One setting's value from a source, through the same parsing as the flag: text sources
 * (environment, config dir) hold strings; a YAML file may hold booleans, numbers and lists.
 * Booleans are `true`/`false`; a list flag takes one occurrence per line of text, or per
 * element of a YAML list (and a comma-list flag still splits each occurrence on commas).
 */
function parseSetting(option: Option, raw: unknown, where: string): unknown {
  const fail = (problem: string): never => {
    throw new ConfigError(`${where}: ${problem}`);
  };
  if (option.isBoolean()) {
    const b = raw === true || raw === "true" ? true : raw === false || raw === "false" ? false : undefined;
    if (b === undefined) return fail(`must be true or false, got ${JSON.stringify(raw)}`);
    return option.negate ? !b : b;
  }
  const asText = (v: unknown): string => {
    if (typeof v === "string") return v;
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    return fail(`must be a single value, got ${JSON.stringify(v)}`);
  };
  let occurrences: string[];
  if (isRepeatable(option)) {
    if (Array.isArray(raw)) occurrences = raw.map(asText);
    else
      occurrences = asText(raw)
        .split("\n")
        .map((line) => line.trim())
        .filter((line) => line !== "");
    if (occurrences.length === 0) return option.defaultValue;
  } else {
    occurrences = [asText(raw)];
  }
  // As commander does for flags: the first occurrence starts from the default.
  let value: unknown = option.defaultValue;
  for (const text of occurrences) {
    try {
      if (option.parseArg) value = option.parseArg(text, value);
      else if (option.variadic) value = [...((value as string[] | undefined) ?? []), text];
      else value = text;
    } catch (err) {
      // commander's InvalidArgumentError (choices) does not name the value; our parsers do.
      const invalid = (err as { code?: string }).code === "commander.invalidArgument";
      fail(
        invalid ? `${JSON.stringify(text)} is invalid. ${(err as Error).message}` : (err as Error).message,
      );
    }
  }
  return value;
}

/**
 * The Markdown table of every setting (README.md holds it between the agent-settings markers;
 * `nsguard agent --generate-docs` prints it, as `tetragon --generate-docs` does for its docs).
 */
export function settingsTable(command: Command): string {
  const cell = (s: string) => s.replace(/\|/g, "\\|");
  // Prose also escapes Markdown's emphasis marks: a formatter reads `*.yaml/*.yml` as emphasis.
  const prose = (s: string) => s.replace(/[|*_]/g, (c) => `\\${c}`);
  const rows = [
    "| Flag | Environment variable | Config key | Default | Meaning |",
    "| --- | --- | --- | --- | --- |",
  ];
  for (const option of command.options) {
    const key = keyOf(option);
    if (key === undefined || option.hidden || key === "help" || key === "print-config") continue;
    const meta = key === CONFIG_FILE || key === CONFIG_DIR;
    const flag = option.flags.replace(/^-\w, /, "");
    let meaning = option.description;
    if (option.argChoices) meaning += ` (${option.argChoices.join(", ")})`;
    rows.push(
      `| \`${cell(flag)}\` | \`${envVarOf(key)}\` | ${meta ? "—" : `\`${key}\``} | ${cell(defaultText(option))} | ${prose(meaning)} |`,
    );
  }
  return rows.join("\n");
}

function defaultText(option: Option): string {
  if (option.defaultValueDescription !== undefined) return option.defaultValueDescription;
  const d: unknown = option.defaultValue ?? (option.isBoolean() ? option.negate : undefined);
  if (d === undefined || (Array.isArray(d) && d.length === 0)) return "";
  return `\`${JSON.stringify(d)}\``;
}
