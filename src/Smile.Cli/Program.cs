System.Console.WriteLine("smile");
