#!/usr/bin/env ruby
# frozen_string_literal: true

# Extracts the fenced code blocks of Markdown guides so tests can run them in
# order (docs/guides/*.md: "every command in it is run by a test").
#
#   scripts/doc_code_blocks.rb docs/guides/migrating-from-tasker-engine.md            # list: index, language, line, first line
#   scripts/doc_code_blocks.rb docs/guides/migrating-from-tasker-engine.md --lang sh  # print the sh blocks, in order
#   scripts/doc_code_blocks.rb FILE --index 3                                         # print one block
#
# A block whose fence follows a line `<!-- file: PATH -->` (blank lines between
# allowed) is that file's content: its Block has file = PATH.
#
# As a library: DocCodeBlocks.parse(text) → [Block(lang, code, line, file)].
module DocCodeBlocks
  Block = Struct.new(:lang, :code, :line, :file, keyword_init: true)

  FENCE = /\A```(\S*)\s*\z/
  FILE_MARKER = /\A<!--\s*file:\s*(\S+)\s*-->\s*\z/

  # The blocks of a Markdown text, in order; an unterminated block is an error
  # (a guide that lost a fence would silently run half a block).
  def self.parse(text)
    blocks = []
    current = nil
    file = nil
    text.each_line.with_index(1) do |line, number|
      fence = line.chomp.match(FENCE)
      if current.nil? && fence
        current = Block.new(lang: fence[1], code: +"", line: number, file: file)
        file = nil
      elsif current && line.chomp == "```"
        blocks << current
        current = nil
      elsif current
        current.code << line
      elsif (marker = line.match(FILE_MARKER))
        file = marker[1]
      elsif !line.strip.empty?
        file = nil
      end
    end
    raise ArgumentError, "unterminated code block starting at line #{current.line}" if current

    blocks
  end
end

if $PROGRAM_NAME == __FILE__
  file = ARGV.shift or abort("usage: #{$PROGRAM_NAME} FILE.md [--lang LANG | --index N]")
  blocks = DocCodeBlocks.parse(File.read(file))
  case ARGV
  in ["--lang", lang] then blocks.select { |b| b.lang == lang }.each { |b| puts b.code }
  in ["--index", n] then puts blocks.fetch(Integer(n)).code
  in [] then blocks.each_with_index { |b, i| puts format("%3d %-10s line %-4d %s", i, b.lang, b.line, b.file ? "file: #{b.file}" : b.code.lines.first&.strip) }
  else abort("usage: #{$PROGRAM_NAME} FILE.md [--lang LANG | --index N]")
  end
end
