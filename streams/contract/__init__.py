"""The wire contract between every callassist process: typed records, their strict JSON
codec and the audio framing. The lowest floor: imports no other callassist module and no Faust."""
