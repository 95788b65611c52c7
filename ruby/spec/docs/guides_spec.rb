# frozen_string_literal: true

require_relative "../../../scripts/doc_code_blocks"

# A first step towards guides whose every command runs (issue 17): the
# extractor finds each guide's code blocks, the Ruby blocks compile, and the
# shell commands of the migration guide name executables that exist. Running
# the Rails guide's blocks in order in a scratch app builds on DocCodeBlocks.
RSpec.describe "docs/guides" do
  root = File.expand_path("../../..", __dir__)
  guides = Dir[File.join(root, "docs/guides/*.md")]

  it "has guides" do
    expect(guides).not_to be_empty
  end

  guides.each do |path|
    name = File.basename(path)
    blocks = DocCodeBlocks.parse(File.read(path))

    it "#{name}: every Ruby block compiles" do
      ruby = blocks.select { |b| b.lang == "ruby" }
      expect(ruby).not_to be_empty
      ruby.each do |b|
        expect { RubyVM::InstructionSequence.compile(b.code, "#{name}:#{b.line}") }.not_to raise_error
      end
    end

    # The Rails guide's commands run in its scratch app (spec/rails/guide_spec.rb).
    next if name == "rails.md"

    it "#{name}: every command of its sh blocks exists in the repository" do
      blocks.select { |b| b.lang == "sh" && b.file.nil? }.flat_map { |b| b.code.lines }.each do |line|
        command = line.strip.split.first
        next if command.nil? || command.start_with?("#") || !command.include?("/")

        expect(File.executable?(File.join(root, command))).to be(true), "#{name}: #{command} is not an executable of the repository"
      end
    end
  end

  it "names the file of a block under a file marker, and only that block's" do
    text = "<!-- file: app/x.rb -->\n\n```ruby\nX = 1\n```\n\ntext\n```sh\nls\n```\n<!-- file: a -->\nprose\n```sh\nls\n```\n"
    expect(DocCodeBlocks.parse(text).map(&:file)).to eq(["app/x.rb", nil, nil])
  end

  it "refuses a guide with an unterminated block" do
    expect { DocCodeBlocks.parse("text\n```sh\nmake test\n") }.to raise_error(ArgumentError, /line 2/)
  end
end
