from codequest.cli import main

raise SystemExit(main())
