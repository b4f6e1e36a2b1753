"""python -m tensortrace --version: the package, the library it loaded and where from."""
import sys


def main(argv):
    if argv in (["--version"], ["-V"]):
        import tensortrace
        print(f"tensortrace {tensortrace.__version__} (libtrace {tensortrace.library_version}, "
              f"{tensortrace.library_path})")
        return 0
    if argv in (["--help"], ["-h"]):
        print("usage: python -m tensortrace --version\n\nThe tensortrace package: import tensortrace as tt; "
              "see the README's Python section.")
        return 0
    print("usage: python -m tensortrace --version", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
