from harness.launcher import main

raise SystemExit(main())
