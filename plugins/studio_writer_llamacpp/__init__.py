"""The llama.cpp writing plugin (``studio.writer-llamacpp``): GGUF language models through
llama-cpp-python, on the CPU. The embedded Gemma 3 270M runs here by default: llama.cpp reads
its quantised GGUF directly, so there is nothing to convert and it is ready in about a second."""
