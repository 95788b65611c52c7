// Package config is Tasker Core's configuration: one schema (Keys) with a default,
// an environment variable, a range and a meaning for every setting, loaded from —
// in rising precedence — built-in defaults, a YAML file (with development / test /
// production sections like Rails and ${ENV_VAR} interpolation), TASKER_*
// environment variables (and DATABASE_URL), and explicit values passed by the
// caller (the Ruby gem passes its settings as JSON). The whole configuration is
// validated before any of it is used: bad configuration never half-applies.
//
// # Start here
//
// Load takes Options (the file, its environment section, explicit values, the
// environment to read) and returns a *Config; Config.String, Int, Float, Bool and
// Strings read a key by its dotted path, and Config.Effective lists every value
// with its source (default, file, env, explicit) and passwords masked. A bad key
// or value is an errs.Configuration error naming the key, the value and what was
// expected, with the nearest known key for a typo. Every key, default and
// variable is listed in docs/configuration.md, and a test holds that document
// equal to Keys.
package config
