# frozen_string_literal: true

# The spec app runs on Debian's Rails gems without Bundler; the gem under test
# comes from TASKER_CORE_GEM_LIB (the spec copies this app to a scratch
# directory) or from the repository around it.
$LOAD_PATH.unshift(ENV.fetch("TASKER_CORE_GEM_LIB") { File.expand_path("../../../lib", __dir__) })
