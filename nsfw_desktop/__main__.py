from nsfw_desktop.cli import main

raise SystemExit(main())
